package netpol

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"testing"

	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"metropolis.dev/metropolis/node/kubernetes/internal/netnstest"
)

// TestMatrix is a Cyclonus-style check: random sets of policies over four pods in two
// namespaces, enforced by the real kernel, each probed over every ordered pod pair on TCP and
// UDP ports 80 and 81, against what an independent model of the NetworkPolicy API says
// (allowedByModel, written from the API documentation, pair by pair, with none of Desired's
// ranges). METROPOLIS_NETPOL_MATRIX=N runs N sets instead of 200.
func TestMatrix(t *testing.T) {
	netnstest.RequireRoot(t)
	n := netnstest.NewNode(t)
	type testPod struct {
		pod *corev1.Pod
		ns  netns.NsHandle
	}
	specs := []struct {
		ns, app string
		ports   []corev1.ContainerPort
	}{
		{"x", "a", []corev1.ContainerPort{containerPort("http", corev1.ProtocolTCP, 80)}},
		{"x", "b", []corev1.ContainerPort{containerPort("http", corev1.ProtocolTCP, 81)}},
		{"y", "a", []corev1.ContainerPort{containerPort("dns", corev1.ProtocolUDP, 81)}},
		{"y", "c", nil},
	}
	var pods []testPod
	for i, s := range specs {
		ns := n.AddPod(i + 1)
		name := fmt.Sprintf("pod%d", i+1)
		for _, port := range []int{80, 81} {
			netnstest.Serve(t, ns, port, name)
			netnstest.ServeUDP(t, ns, port, name)
		}
		pods = append(pods, testPod{pod(s.ns, name, node, fmt.Sprintf("10.99.%d.2", i+1), map[string]string{"app": s.app}, s.ports...), ns})
	}
	namespaces := []*corev1.Namespace{namespace("x", map[string]string{"team": "1"}), namespace("y", map[string]string{"team": "2"})}
	conn, err := OpenConn(int(n.NS))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseLasting()

	sets := 200
	if v, err := strconv.Atoi(os.Getenv("METROPOLIS_NETPOL_MATRIX")); err == nil && v > 0 {
		sets = v
	}
	r := rand.New(rand.NewPCG(7, 11))
	probes, failed := 0, 0
	for set := range sets {
		policies := randomPolicies(r)
		var in Input
		in.NodeName, in.Namespaces = node, namespaces
		for _, p := range pods {
			in.Pods = append(in.Pods, p.pod)
		}
		in.Policies = policies
		rules, _ := Desired(in)
		if err := Apply(conn, rules, uint16(set+1)); err != nil {
			t.Fatalf("set %d: Apply: %v", set, err)
		}
		for _, src := range pods {
			for _, dst := range pods {
				if src.pod == dst.pod {
					continue // a pod's traffic to itself never leaves it
				}
				for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP} {
					for _, port := range []int{80, 81} {
						want := allowedByModel(policies, namespaces, src.pod, dst.pod, proto, port)
						to := dst.pod.Status.PodIP + ":" + strconv.Itoa(port)
						var err error
						if proto == corev1.ProtocolTCP {
							_, err = netnstest.Ask(src.ns, to)
						} else {
							_, err = askUDP(src.ns, to)
						}
						probes++
						if got := err == nil; got != want {
							failed++
							t.Errorf("set %d: %s/%s → %s/%s %s/%d: reached=%v (%v), the model says %v; policies:\n%s",
								set, src.pod.Namespace, src.pod.Name, dst.pod.Namespace, dst.pod.Name, proto, port, got, err, want, describe(policies))
						}
					}
				}
			}
		}
		if failed > 20 {
			t.Fatalf("stopping after %d mismatches", failed)
		}
	}
	t.Logf("%d policy sets, %d probes: %d agree with the model, %d do not", sets, probes, probes-failed, failed)
}

// randomPolicies makes one to three policies over the matrix's labels, namespaces, addresses
// and ports.
func randomPolicies(r *rand.Rand) []*networkingv1.NetworkPolicy {
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	sel := func(key string, values ...string) map[string]string {
		if r.IntN(3) == 0 {
			return nil // empty: everything
		}
		return map[string]string{key: pick(values...)}
	}
	peer := func() networkingv1.NetworkPolicyPeer {
		switch r.IntN(4) {
		case 0:
			return podPeer(sel("app", "a", "b", "c"))
		case 1:
			return nsPeer(sel("team", "1", "2"))
		case 2:
			return networkingv1.NetworkPolicyPeer{PodSelector: podPeer(sel("app", "a", "b")).PodSelector, NamespaceSelector: nsPeer(sel("team", "1", "2")).NamespaceSelector}
		}
		return blockPeer(pick("10.99.0.0/16", "10.99.0.0/22", "10.99.2.0/24", "0.0.0.0/0"), pick("10.99.2.2/32", "10.99.3.0/24", "10.98.0.0/16"))
	}
	ports := func() []networkingv1.NetworkPolicyPort {
		var out []networkingv1.NetworkPolicyPort
		for range r.IntN(3) {
			proto := []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP}[r.IntN(2)]
			switch r.IntN(4) {
			case 0:
				out = append(out, port(proto, int32(80+r.IntN(2))))
			case 1:
				out = append(out, portRange(proto, 80, 81))
			case 2:
				out = append(out, namedPort(proto, pick("http", "dns")))
			default:
				out = append(out, networkingv1.NetworkPolicyPort{Protocol: &proto})
			}
		}
		return out
	}
	var out []*networkingv1.NetworkPolicy
	for i := range 1 + r.IntN(3) {
		var types []networkingv1.PolicyType
		if r.IntN(3) > 0 {
			types = append(types, networkingv1.PolicyTypeIngress)
		}
		if r.IntN(2) == 0 {
			types = append(types, networkingv1.PolicyTypeEgress)
		}
		p := netPolicy(pick("x", "y"), fmt.Sprint("p", i), sel("app", "a", "b", "c"), types...)
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
		out = append(out, p)
	}
	return out
}

// allowedByModel says whether the API lets src open a connection to dst's port: src's egress
// and dst's ingress must both allow it, each either not isolated or allowed by some rule of
// some policy selecting the pod.
func allowedByModel(policies []*networkingv1.NetworkPolicy, namespaces []*corev1.Namespace, src, dst *corev1.Pod, proto corev1.Protocol, port int) bool {
	nsLabels := func(name string) labels.Set {
		for _, ns := range namespaces {
			if ns.Name == name {
				l := labels.Set{"kubernetes.io/metadata.name": name}
				for k, v := range ns.Labels {
					l[k] = v
				}
				return l
			}
		}
		return labels.Set{"kubernetes.io/metadata.name": name}
	}
	matches := func(s *metav1.LabelSelector, l labels.Set) bool {
		sel, err := metav1.LabelSelectorAsSelector(s)
		return err == nil && sel.Matches(l)
	}
	// peerMatches: does the rule's peer (of a policy in namespace policyNS) stand for pod?
	peerMatches := func(policyNS string, peer networkingv1.NetworkPolicyPeer, pod *corev1.Pod) bool {
		if peer.IPBlock != nil {
			ip := netip.MustParseAddr(pod.Status.PodIP)
			if !netip.MustParsePrefix(peer.IPBlock.CIDR).Contains(ip) {
				return false
			}
			for _, e := range peer.IPBlock.Except {
				if netip.MustParsePrefix(e).Contains(ip) {
					return false
				}
			}
			return true
		}
		if peer.NamespaceSelector != nil {
			if !matches(peer.NamespaceSelector, nsLabels(pod.Namespace)) {
				return false
			}
		} else if pod.Namespace != policyNS {
			return false
		}
		return peer.PodSelector == nil || matches(peer.PodSelector, labels.Set(pod.Labels))
	}
	// portMatches: does the rule's port list allow proto/port on the destination pod?
	portMatches := func(ports []networkingv1.NetworkPolicyPort, dst *corev1.Pod) bool {
		if len(ports) == 0 {
			return true
		}
		for _, p := range ports {
			pp := corev1.ProtocolTCP
			if p.Protocol != nil {
				pp = *p.Protocol
			}
			if pp != proto {
				continue
			}
			switch {
			case p.Port == nil:
				return true
			case p.Port.StrVal != "":
				for _, c := range dst.Spec.Containers {
					for _, cp := range c.Ports {
						if cp.Name == p.Port.StrVal && cp.Protocol == proto && int(cp.ContainerPort) == port {
							return true
						}
					}
				}
			default:
				end := p.Port.IntVal
				if p.EndPort != nil {
					end = *p.EndPort
				}
				if int(p.Port.IntVal) <= port && port <= int(end) {
					return true
				}
			}
		}
		return false
	}
	direction := func(target, peer *corev1.Pod, egress bool) bool {
		isolated := false
		for _, pol := range policies {
			if pol.Namespace != target.Namespace || !matches(&pol.Spec.PodSelector, labels.Set(target.Labels)) {
				continue
			}
			ingressType, egressType := len(pol.Spec.PolicyTypes) == 0, len(pol.Spec.PolicyTypes) == 0 && len(pol.Spec.Egress) > 0
			for _, t := range pol.Spec.PolicyTypes {
				ingressType = ingressType || t == networkingv1.PolicyTypeIngress
				egressType = egressType || t == networkingv1.PolicyTypeEgress
			}
			if egress && egressType {
				isolated = true
				for _, rule := range pol.Spec.Egress {
					if (len(rule.To) == 0 || anyPeer(rule.To, func(p networkingv1.NetworkPolicyPeer) bool { return peerMatches(pol.Namespace, p, peer) })) && portMatches(rule.Ports, peer) {
						return true
					}
				}
			}
			if !egress && ingressType {
				isolated = true
				for _, rule := range pol.Spec.Ingress {
					if (len(rule.From) == 0 || anyPeer(rule.From, func(p networkingv1.NetworkPolicyPeer) bool { return peerMatches(pol.Namespace, p, peer) })) && portMatches(rule.Ports, target) {
						return true
					}
				}
			}
		}
		return !isolated
	}
	return direction(src, dst, true) && direction(dst, src, false)
}

func anyPeer(peers []networkingv1.NetworkPolicyPeer, f func(networkingv1.NetworkPolicyPeer) bool) bool {
	for _, p := range peers {
		if f(p) {
			return true
		}
	}
	return false
}

func describe(policies []*networkingv1.NetworkPolicy) string {
	var out string
	for _, p := range policies {
		out += fmt.Sprintf("  %s/%s: %+v\n", p.Namespace, p.Name, p.Spec)
	}
	return out
}
