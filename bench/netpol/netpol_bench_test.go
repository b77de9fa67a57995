package netpol_bench

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"metropolis.dev/metropolis/node/kubernetes/netpol"
)

// world is a cluster of pods pods in 20 namespaces over 10 nodes (so a tenth of them are on
// the node whose rules are computed) and policies policies, five kinds in turn: deny-all
// ingress, allow from one app of the namespace on a port, allow from labelled namespaces on a
// port range, allow from an ipBlock with an exception, and egress to one app on a named port.
func world(pods, policies int) netpol.Input {
	in := netpol.Input{NodeName: "node-0"}
	for ns := range 20 {
		in.Namespaces = append(in.Namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprint("ns-", ns), Labels: map[string]string{"tier": fmt.Sprint(ns % 4)},
		}})
	}
	for i := range pods {
		in.Pods = append(in.Pods, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprint("ns-", i%20), Name: fmt.Sprint("pod-", i),
				Labels: map[string]string{"app": fmt.Sprint("app-", i%10)}},
			Spec: corev1.PodSpec{NodeName: fmt.Sprint("node-", (i/7)%10), Containers: []corev1.Container{{
				Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(8000 + i%3), Protocol: corev1.ProtocolTCP}},
			}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: netip.AddrFrom4([4]byte{10, 112, byte(i / 250), byte(i%250 + 2)}).String()},
		})
	}
	tcp := corev1.ProtocolTCP
	port := func(p int32) *intstr.IntOrString { v := intstr.FromInt32(p); return &v }
	named := intstr.FromString("http")
	end := int32(9000)
	for i := range policies {
		p := &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprint("ns-", i%20), Name: fmt.Sprint("policy-", i)},
			Spec:       networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprint("app-", i%10)}}},
		}
		switch i % 5 {
		case 0:
			p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		case 1:
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprint("app-", (i+1)%10)}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: port(80)}},
			}}
		case 2:
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": fmt.Sprint(i % 4)}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: port(8000), EndPort: &end}},
			}}
		case 3:
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "192.168.0.0/16", Except: []string{"192.168.1.0/24"}}}},
			}}
		case 4:
			p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
			p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprint("app-", (i+3)%10)}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &named}},
			}}
		}
		in.Policies = append(in.Policies, p)
	}
	return in
}

func elements(rules []netpol.Rules) int {
	n := 0
	for _, r := range rules {
		n += len(r.Ingress) + len(r.Egress)
	}
	return n
}

// BenchmarkDesired is the pure computation for one node: 1,000 pods, 100 policies.
func BenchmarkDesired(b *testing.B) {
	in := world(1000, 100)
	var rules []netpol.Rules
	for b.Loop() {
		rules, _ = netpol.Desired(in)
	}
	b.ReportMetric(float64(len(rules)), "local-pods")
	b.ReportMetric(float64(elements(rules)), "set-elements")
}

// BenchmarkApply replaces the table with those rules in a scratch network namespace.
func BenchmarkApply(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: programs nf_tables in a scratch network namespace")
	}
	rules, _ := netpol.Desired(world(1000, 100))
	ns := scratchNamespace(b)
	conn, err := netpol.OpenConn(int(ns))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.CloseLasting()
	generation := uint16(1)
	for b.Loop() {
		if err := netpol.Apply(conn, rules, generation); err != nil {
			b.Fatal(err)
		}
		generation++
	}
	b.ReportMetric(float64(elements(rules)), "set-elements")
}

// scratchNamespace is a new network namespace that lives as long as the benchmark.
func scratchNamespace(b *testing.B) netns.NsHandle {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		b.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		b.Fatal(err)
	}
	if err := netns.Set(orig); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ns.Close() })
	return ns
}
