package netpol

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// randomWorld makes pods, namespaces and policies from r: a few labels,
// namespaces and ports, so that selectors often match.
func randomWorld(r *rand.Rand) Input {
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	labelsOf := func() map[string]string {
		l := map[string]string{}
		for range r.IntN(3) {
			l[pick("app", "role", "team")] = pick("a", "b")
		}
		return l
	}
	protos := []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP, "ICMP"}
	in := Input{NodeName: node}
	for _, ns := range []string{"x", "y", "z"} {
		in.Namespaces = append(in.Namespaces, namespace(ns, labelsOf()))
	}
	for i := range r.IntN(12) {
		p := pod(pick("x", "y", "z"), fmt.Sprint("p", i), pick(node, "node-b"), fmt.Sprintf("10.112.%d.%d", r.IntN(2), r.IntN(8)), labelsOf(),
			containerPort(pick("http", "dns"), protos[r.IntN(3)], int32(r.IntN(3)*1000+80)))
		p.Spec.HostNetwork = r.IntN(8) == 0
		in.Pods = append(in.Pods, p)
	}
	peer := func() networkingv1.NetworkPolicyPeer {
		switch r.IntN(4) {
		case 0:
			return podPeer(labelsOf())
		case 1:
			return nsPeer(labelsOf())
		case 2:
			return networkingv1.NetworkPolicyPeer{PodSelector: podPeer(labelsOf()).PodSelector, NamespaceSelector: nsPeer(labelsOf()).NamespaceSelector}
		}
		return blockPeer(fmt.Sprintf("10.112.%d.0/%d", r.IntN(2), 20+r.IntN(13)), fmt.Sprintf("10.112.0.%d/%d", r.IntN(8), 28+r.IntN(5)))
	}
	ports := func() []networkingv1.NetworkPolicyPort {
		var out []networkingv1.NetworkPolicyPort
		for range r.IntN(3) {
			switch proto := protos[r.IntN(len(protos))]; r.IntN(3) {
			case 0:
				out = append(out, port(proto, int32(r.IntN(3)*1000+80)))
			case 1:
				out = append(out, portRange(proto, 80, int32(80+r.IntN(3000))))
			default:
				out = append(out, namedPort(proto, pick("http", "dns")))
			}
		}
		return out
	}
	for i := range r.IntN(6) {
		var types []networkingv1.PolicyType
		if r.IntN(2) == 0 {
			types = append(types, networkingv1.PolicyTypeIngress)
		}
		if r.IntN(2) == 0 {
			types = append(types, networkingv1.PolicyTypeEgress)
		}
		p := netPolicy(pick("x", "y", "z"), fmt.Sprint("np", i), labelsOf(), types...)
		for range r.IntN(3) {
			var from []networkingv1.NetworkPolicyPeer
			for range r.IntN(3) {
				from = append(from, peer())
			}
			withIngress(p, from, ports()...)
		}
		for range r.IntN(3) {
			var to []networkingv1.NetworkPolicyPeer
			for range r.IntN(3) {
				to = append(to, peer())
			}
			withEgress(p, to, ports()...)
		}
		in.Policies = append(in.Policies, p)
	}
	actions := []cnpv1beta1.ClusterNetworkPolicyRuleAction{cnpAccept, cnpDeny, cnpPass}
	for i := range r.IntN(4) {
		p := cnp(fmt.Sprint("cnp", i), []cnpv1beta1.Tier{admin, baseline}[r.IntN(2)], int32(r.IntN(3)), labelsOf())
		if r.IntN(2) == 0 {
			p = withPodSubject(p, labelsOf(), labelsOf())
		}
		for range r.IntN(3) {
			var protos []cnpv1beta1.ClusterNetworkPolicyProtocol
			if r.IntN(2) == 0 {
				from := int32(r.IntN(3)*1000 + 80)
				protos = append(protos, cnpTCP(from, from+int32(r.IntN(2)*100)))
			}
			if r.IntN(2) == 0 {
				p = cnpIngress(p, actions[r.IntN(3)], []cnpv1beta1.ClusterNetworkPolicyIngressPeer{
					fromNamespaces(labelsOf())[0], fromPods(labelsOf(), labelsOf())[0],
				}[:1+r.IntN(2)], protos...)
			} else {
				p = cnpEgress(p, actions[r.IntN(3)], toNetworks(cnpv1beta1.CIDR(fmt.Sprintf("10.112.%d.0/%d", r.IntN(2), 20+r.IntN(13)))), protos...)
			}
		}
		in.ClusterPolicies = append(in.ClusterPolicies, p)
	}
	return in
}

// FuzzDesired checks, for random worlds: no panic, the same rules whatever
// order the objects come in, and allows that are well-formed and merged.
func FuzzDesired(f *testing.F) {
	for _, seed := range []uint64{1, 2, 3, 42} {
		f.Add(seed, seed*7)
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		r := rand.New(rand.NewPCG(a, b))
		in := randomWorld(r)
		want, _ := Desired(in)
		shuffled := in
		shuffled.Pods = shuffle(r, in.Pods)
		shuffled.Namespaces = shuffle(r, in.Namespaces)
		shuffled.Policies = shuffle(r, in.Policies)
		shuffled.ClusterPolicies = shuffle(r, in.ClusterPolicies)
		got, _ := Desired(shuffled)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("rules depend on the order of the objects:\n%+v\n%+v", got, want)
		}
		for _, rules := range got {
			for _, allows := range [][]Allow{rules.Ingress, rules.Egress} {
				for i, a := range allows {
					if a.Peer.From.Compare(a.Peer.To) > 0 || a.Ports.From > a.Ports.To {
						t.Fatalf("%s: allow %+v is an empty range", rules.Pod, a)
					}
					if i > 0 && allows[i-1].Ports == a.Ports && u32(allows[i-1].Peer.To)+1 >= u32(a.Peer.From) {
						t.Fatalf("%s: allows %+v and %+v were not merged", rules.Pod, allows[i-1], a)
					}
				}
			}
			if !rules.IngressIsolated && len(rules.Ingress) > 0 || !rules.EgressIsolated && len(rules.Egress) > 0 {
				t.Fatalf("%s: allows for a direction that is not isolated", rules.Pod)
			}
		}
	})
}

func shuffle[T any](r *rand.Rand, s []T) []T {
	out := append([]T(nil), s...)
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
