package netpol

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"
)

func cnp(name string, tier cnpv1beta1.Tier, priority int32, subjectNS map[string]string) *cnpv1beta1.ClusterNetworkPolicy {
	return &cnpv1beta1.ClusterNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: cnpv1beta1.ClusterNetworkPolicySpec{
			Tier: tier, Priority: priority,
			Subject: cnpv1beta1.ClusterNetworkPolicySubject{Namespaces: &metav1.LabelSelector{MatchLabels: subjectNS}},
		},
	}
}

func cnpIngress(p *cnpv1beta1.ClusterNetworkPolicy, action cnpv1beta1.ClusterNetworkPolicyRuleAction, from []cnpv1beta1.ClusterNetworkPolicyIngressPeer, protos ...cnpv1beta1.ClusterNetworkPolicyProtocol) *cnpv1beta1.ClusterNetworkPolicy {
	p.Spec.Ingress = append(p.Spec.Ingress, cnpv1beta1.ClusterNetworkPolicyIngressRule{Action: action, From: from, Protocols: protos})
	return p
}

func cnpEgress(p *cnpv1beta1.ClusterNetworkPolicy, action cnpv1beta1.ClusterNetworkPolicyRuleAction, to []cnpv1beta1.ClusterNetworkPolicyEgressPeer, protos ...cnpv1beta1.ClusterNetworkPolicyProtocol) *cnpv1beta1.ClusterNetworkPolicy {
	p.Spec.Egress = append(p.Spec.Egress, cnpv1beta1.ClusterNetworkPolicyEgressRule{Action: action, To: to, Protocols: protos})
	return p
}

func fromNamespaces(sel map[string]string) []cnpv1beta1.ClusterNetworkPolicyIngressPeer {
	return []cnpv1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{MatchLabels: sel}}}
}

func fromPods(nsSel, podSel map[string]string) []cnpv1beta1.ClusterNetworkPolicyIngressPeer {
	return []cnpv1beta1.ClusterNetworkPolicyIngressPeer{{Pods: &cnpv1beta1.NamespacedPod{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: nsSel}, PodSelector: metav1.LabelSelector{MatchLabels: podSel},
	}}}
}

func toNetworks(cidrs ...cnpv1beta1.CIDR) []cnpv1beta1.ClusterNetworkPolicyEgressPeer {
	return []cnpv1beta1.ClusterNetworkPolicyEgressPeer{{Networks: cidrs}}
}

func cnpTCP(from, to int32) cnpv1beta1.ClusterNetworkPolicyProtocol {
	port := &cnpv1beta1.Port{Number: from}
	if to != from {
		port = &cnpv1beta1.Port{Range: &cnpv1beta1.PortRange{Start: from, End: to}}
	}
	return cnpv1beta1.ClusterNetworkPolicyProtocol{TCP: &cnpv1beta1.ClusterNetworkPolicyProtocolTCP{DestinationPort: port}}
}

const (
	admin      = cnpv1beta1.AdminTier
	baseline   = cnpv1beta1.BaselineTier
	cnpAccept  = cnpv1beta1.ClusterNetworkPolicyRuleActionAccept
	cnpDeny    = cnpv1beta1.ClusterNetworkPolicyRuleActionDeny
	cnpPass    = cnpv1beta1.ClusterNetworkPolicyRuleActionPass
	everywhere = "0.0.0.0"
	nowhere    = "255.255.255.255"
)

// TestClusterPolicyTiers checks the tiers' order: Admin, then
// NetworkPolicy, then Baseline, then allow; first match wins within a tier.
func TestClusterPolicyTiers(t *testing.T) {
	web := map[string]string{"app": "web"}
	client := map[string]string{"role": "client"}
	pods := []*corev1.Pod{
		pod("default", "web", node, "10.112.0.2", web),
		pod("default", "client-1", "node-b", "10.112.1.5", client),
		pod("team", "client-2", "node-b", "10.112.1.9", client),
	}
	namespaces := []*corev1.Namespace{namespace("default", nil), namespace("team", map[string]string{"team": "a"})}
	all := map[string]string(nil)
	teamA := map[string]string{"team": "a"}
	defaultNS := map[string]string{"kubernetes.io/metadata.name": "default"}
	npAllowDefault := withIngress(netPolicy("default", "allow-default", web), peers(podPeer(nil)))
	npAllowTeam := withIngress(netPolicy("default", "allow-team", web), peers(nsPeer(teamA)))
	webRules := func(in, out bool, ingress, egress []Allow) []Rules {
		return []Rules{{Pod: "default/web", IP: ip("10.112.0.2"), IngressIsolated: in, EgressIsolated: out, Ingress: ingress, Egress: egress}}
	}
	// Every address but the pods', over all ports.
	notPods := []Allow{
		{peerRange(everywhere, "10.112.0.1"), AllPorts}, {peerRange("10.112.0.3", "10.112.1.4"), AllPorts},
		{peerRange("10.112.1.6", "10.112.1.8"), AllPorts}, {peerRange("10.112.1.10", nowhere), AllPorts},
	}
	// Everything but one address, over all ports.
	allBut := func(a string) []Allow {
		return []Allow{{peerRange(everywhere, prev(a)), AllPorts}, {peerRange(next(a), nowhere), AllPorts}}
	}

	for _, tc := range []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
		cluster  []*cnpv1beta1.ClusterNetworkPolicy
		want     []Rules
		problem  string
	}{
		{
			name:    "admin deny from a namespace",
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{cnpIngress(cnp("deny-team", admin, 10, all), cnpDeny, fromNamespaces(teamA))},
			want:    webRules(true, false, allBut("10.112.1.9"), nil),
		},
		{
			name:     "a NetworkPolicy cannot override an admin deny",
			policies: []*networkingv1.NetworkPolicy{npAllowTeam},
			cluster:  []*cnpv1beta1.ClusterNetworkPolicy{cnpIngress(cnp("deny-team", admin, 10, all), cnpDeny, fromNamespaces(teamA))},
			want:     webRules(true, false, nil, nil),
		},
		{
			name:     "admin accept lets in what a NetworkPolicy would refuse",
			policies: []*networkingv1.NetworkPolicy{npAllowDefault},
			cluster:  []*cnpv1beta1.ClusterNetworkPolicy{cnpIngress(cnp("team-in", admin, 10, all), cnpAccept, fromNamespaces(teamA))},
			want:     webRules(true, false, []Allow{{peerIP("10.112.0.2"), AllPorts}, {peerIP("10.112.1.5"), AllPorts}, {peerIP("10.112.1.9"), AllPorts}}, nil),
		},
		{
			name:     "admin pass hands over to the NetworkPolicy",
			policies: []*networkingv1.NetworkPolicy{npAllowDefault},
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{
				cnpIngress(cnpIngress(cnp("pass-default", admin, 10, all), cnpPass, fromNamespaces(defaultNS)), cnpDeny, fromNamespaces(nil)),
			},
			want: webRules(true, false, []Allow{{peerIP("10.112.0.2"), AllPorts}, {peerIP("10.112.1.5"), AllPorts}}, nil),
		},
		{
			name: "lower priority first: a deny at 5 beats an accept at 10",
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{
				cnpIngress(cnp("accept", admin, 10, all), cnpAccept, fromNamespaces(nil)),
				cnpIngress(cnp("deny", admin, 5, all), cnpDeny, fromNamespaces(teamA)),
			},
			want: webRules(true, false, allBut("10.112.1.9"), nil),
		},
		{
			name: "within a policy, the first rule wins",
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{
				cnpIngress(cnpIngress(cnp("p", admin, 10, all), cnpAccept, fromNamespaces(teamA)), cnpDeny, fromNamespaces(nil)),
			},
			want: webRules(true, false, []Allow{
				{peerRange(everywhere, "10.112.0.1"), AllPorts}, {peerRange("10.112.0.3", "10.112.1.4"), AllPorts}, {peerRange("10.112.1.6", nowhere), AllPorts},
			}, nil),
		},
		{
			name:    "baseline deny applies to pods no NetworkPolicy selects",
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{cnpIngress(cnp("default", baseline, 0, all), cnpDeny, fromNamespaces(nil))},
			want:    webRules(true, false, notPods, nil),
		},
		{
			name:     "a NetworkPolicy overrides the baseline",
			policies: []*networkingv1.NetworkPolicy{npAllowTeam},
			cluster:  []*cnpv1beta1.ClusterNetworkPolicy{cnpIngress(cnp("default", baseline, 0, all), cnpDeny, fromNamespaces(teamA))},
			want:     webRules(true, false, []Allow{{peerIP("10.112.1.9"), AllPorts}}, nil),
		},
		{
			name:    "a subject that does not match changes nothing",
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{cnpIngress(cnp("deny", admin, 0, teamA), cnpDeny, fromNamespaces(nil))},
			want:    webRules(false, false, nil, nil),
		},
		{
			name:    "an admin accept alone leaves the pod open",
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{cnpIngress(cnp("accept", admin, 0, all), cnpAccept, fromNamespaces(nil))},
			want:    webRules(false, false, nil, nil),
		},
		{
			name: "a denied port: other ports and protocols stay open",
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{
				cnpIngress(cnp("no-ssh", admin, 0, all), cnpDeny, fromNamespaces(nil), cnpTCP(22, 22)),
			},
			want: webRules(true, false, []Allow{
				{anyAddr, OtherProtocols},
				{anyAddr, tcp(0, 21)},
				{notPods[0].Peer, tcp(22, 22)}, {notPods[1].Peer, tcp(22, 22)}, {notPods[2].Peer, tcp(22, 22)}, {notPods[3].Peer, tcp(22, 22)},
				{anyAddr, tcp(23, 65535)},
				{anyAddr, udp(0, 65535)},
				{anyAddr, Ports{Protocol: ProtocolSCTP, From: 0, To: 65535}},
			}, nil),
		},
		{
			name: "egress deny to a network, with an exception accepted first",
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{
				cnpEgress(cnpEgress(cnp("egress", admin, 0, all), cnpAccept, toNetworks("10.0.0.0/24")), cnpDeny, toNetworks("10.0.0.0/8", "2001:db8::/32")),
			},
			want: webRules(false, true, nil, []Allow{{peerRange(everywhere, "10.0.0.255"), AllPorts}, {peerRange("11.0.0.0", nowhere), AllPorts}}),
		},
		{
			name: "a peer with no field set fails closed: a deny rule denies everything",
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{
				cnpIngress(cnp("p", admin, 0, all), cnpDeny, []cnpv1beta1.ClusterNetworkPolicyIngressPeer{{}}),
			},
			want:    webRules(true, false, nil, nil),
			problem: "ClusterNetworkPolicy p: ingress[0]: from[0]: exactly one of namespaces, pods and networks must be set; the rule denies all traffic",
		},
		{
			name: "an unsupported part of an accept rule matches nothing",
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{
				cnpEgress(cnpEgress(cnp("p", admin, 0, all), cnpAccept, []cnpv1beta1.ClusterNetworkPolicyEgressPeer{{DomainNames: []cnpv1beta1.DomainName{"example.com"}}}), cnpDeny, toNetworks("0.0.0.0/0")),
			},
			want:    webRules(false, true, nil, nil),
			problem: "ClusterNetworkPolicy p: egress[0]: to[0]: node and domain name peers are not supported; those parts match nothing",
		},
		{
			name:    "a pod subject selects by namespace and pod labels",
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{cnpIngress(withPodSubject(cnp("p", admin, 0, nil), all, web), cnpDeny, fromPods(teamA, client))},
			want:    webRules(true, false, allBut("10.112.1.9"), nil),
		},
		{
			name:    "an unknown tier is reported and not enforced",
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{cnpIngress(cnp("p", "Developer", 0, all), cnpDeny, fromNamespaces(nil))},
			want:    webRules(false, false, nil, nil),
			problem: `ClusterNetworkPolicy p: tier "Developer" is not Admin or Baseline`,
		},
		{
			name:    "a port number out of range fails closed",
			cluster: []*cnpv1beta1.ClusterNetworkPolicy{cnpIngress(cnp("p", admin, 0, all), cnpPass, fromNamespaces(teamA), cnpTCP(70000, 70000))},
			want:    webRules(true, false, nil, nil),
			problem: "ClusterNetworkPolicy p: ingress[0]: protocols[0]: destinationPort needs either a number in 1-65535 or a range; the rule denies all traffic",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := Desired(Input{NodeName: node, Pods: pods, Namespaces: namespaces, Policies: tc.policies, ClusterPolicies: tc.cluster})
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Desired:\n got %+v\nwant %+v", got, tc.want)
			}
			if tc.problem == "" && len(problems) > 0 || tc.problem != "" && (len(problems) != 1 || !strings.HasPrefix(problems[0], tc.problem)) {
				t.Errorf("problems %q, want one starting with %q", problems, tc.problem)
			}
		})
	}
}

func withPodSubject(p *cnpv1beta1.ClusterNetworkPolicy, nsSel, podSel map[string]string) *cnpv1beta1.ClusterNetworkPolicy {
	p.Spec.Subject = cnpv1beta1.ClusterNetworkPolicySubject{Pods: &cnpv1beta1.NamespacedPod{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: nsSel}, PodSelector: metav1.LabelSelector{MatchLabels: podSel},
	}}
	return p
}

func regionsOf(rules []tierRule) iter.Seq[[]Allow] {
	return func(yield func([]Allow) bool) {
		for _, r := range rules {
			if !yield(r.region) {
				return
			}
		}
	}
}

func prev(a string) string { return addr(u32(ip(a)) - 1).String() }
func next(a string) string { return addr(u32(ip(a)) + 1).String() }

// FuzzResolve checks resolve against the tiers asked point by point, at
// every edge of random rules and beside it.
func FuzzResolve(f *testing.F) {
	for _, seed := range []uint64{1, 2, 3, 42} {
		f.Add(seed, seed*13)
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		r := rand.New(rand.NewPCG(a, b))
		randomRegion := func() []Allow {
			var out []Allow
			for range 1 + r.IntN(3) {
				from := uint32(r.IntN(16))
				peer := AddrRange{From: addr(from), To: addr(from + uint32(r.IntN(8)))}
				ports := AllPorts
				switch r.IntN(4) {
				case 0:
					ports = OtherProtocols
				case 1, 2:
					p := uint16(r.IntN(100))
					ports = Ports{Protocol: explicitProtocols[r.IntN(3)], From: p, To: p + uint16(r.IntN(50))}
				}
				out = append(out, Allow{Peer: peer, Ports: ports})
			}
			return out
		}
		randomTier := func() []tierRule {
			var out []tierRule
			for range r.IntN(4) {
				out = append(out, tierRule{verdict: verdict(1 + r.IntN(3)), region: randomRegion()})
			}
			return out
		}
		adminRules, baselineRules := randomTier(), randomTier()
		npIsolated := r.IntN(2) == 0
		var npAllows []Allow
		if npIsolated {
			npAllows = mergeAllows(randomRegion())
		}
		isolated, allows := resolve(adminRules, npIsolated, npAllows, baselineRules)

		inRegion := func(region []Allow, a netip.Addr, p Ports) bool {
			for _, x := range region {
				if x.Peer.contains(a) && x.Ports.contains(p) {
					return true
				}
			}
			return false
		}
		decide := func(a netip.Addr, p Ports) bool {
			for _, rule := range adminRules {
				if inRegion(rule.region, a, p) && rule.verdict != verdictPass {
					return rule.verdict == verdictAccept
				} else if inRegion(rule.region, a, p) {
					break
				}
			}
			if npIsolated {
				return inRegion(npAllows, a, p)
			}
			for _, rule := range baselineRules {
				if inRegion(rule.region, a, p) && rule.verdict != verdictPass {
					return rule.verdict == verdictAccept
				} else if inRegion(rule.region, a, p) {
					break
				}
			}
			return true
		}
		// Every port edge of any rule, and the ports beside it.
		points := []Ports{OtherProtocols}
		for _, proto := range explicitProtocols {
			for _, port := range []uint16{0, 65535} {
				points = append(points, Ports{Protocol: proto, From: port, To: port})
			}
		}
		for _, region := range append(append(slices.Collect(regionsOf(adminRules)), slices.Collect(regionsOf(baselineRules))...), npAllows) {
			for _, x := range region {
				if x.Ports.Protocol == 0 {
					continue
				}
				for _, port := range []uint16{x.Ports.From - 1, x.Ports.From, x.Ports.To, x.Ports.To + 1} {
					points = append(points, Ports{Protocol: x.Ports.Protocol, From: port, To: port})
				}
			}
		}
		for v := range uint32(26) {
			a := addr(v)
			for _, p := range points {
				want := decide(a, p)
				got := !isolated || inRegion(allows, a, p)
				if got != want {
					t.Fatalf("traffic with %v on %+v: resolve says %v, the tiers %v\nadmin %+v\nnetpol %v %+v\nbaseline %+v\nresolved %v %+v",
						a, p, got, want, adminRules, npIsolated, npAllows, baselineRules, isolated, allows)
				}
			}
		}
		if fmt.Sprint(allows) != fmt.Sprint(mergeAllows(append([]Allow(nil), allows...))) {
			t.Fatalf("allows are not merged: %+v", allows)
		}
	})
}
