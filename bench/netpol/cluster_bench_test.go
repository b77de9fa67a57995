package netpol_bench

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"metropolis.dev/metropolis/node/kubernetes/netpol"
)

// clusterPolicies are n ClusterNetworkPolicies, half in each tier, in four kinds in turn: an
// admin deny of one namespace tier's ingress on a port range, an admin pass of one app's
// egress to a network, a baseline deny of all ingress from other namespace tiers, and a
// baseline accept of one app on a port. Each selects a quarter of the namespaces.
func clusterPolicies(n int) []*cnpv1beta1.ClusterNetworkPolicy {
	var out []*cnpv1beta1.ClusterNetworkPolicy
	tcp := func(from, to int32) []cnpv1beta1.ClusterNetworkPolicyProtocol {
		port := &cnpv1beta1.Port{Number: from}
		if to > from {
			port = &cnpv1beta1.Port{Range: &cnpv1beta1.PortRange{Start: from, End: to}}
		}
		return []cnpv1beta1.ClusterNetworkPolicyProtocol{{TCP: &cnpv1beta1.ClusterNetworkPolicyProtocolTCP{DestinationPort: port}}}
	}
	tier := func(i int) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"tier": fmt.Sprint(i % 4)}}
	}
	app := func(i int) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprint("app-", i%10)}}
	}
	for i := range n {
		p := &cnpv1beta1.ClusterNetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("cluster-policy-", i)},
			Spec: cnpv1beta1.ClusterNetworkPolicySpec{
				Tier: cnpv1beta1.AdminTier, Priority: int32(i),
				Subject: cnpv1beta1.ClusterNetworkPolicySubject{Namespaces: tier(i)},
			},
		}
		switch i % 4 {
		case 0:
			p.Spec.Ingress = []cnpv1beta1.ClusterNetworkPolicyIngressRule{{
				Action:    cnpv1beta1.ClusterNetworkPolicyRuleActionDeny,
				From:      []cnpv1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: tier(i + 1)}},
				Protocols: tcp(8000, 8100),
			}}
		case 1:
			p.Spec.Subject = cnpv1beta1.ClusterNetworkPolicySubject{Pods: &cnpv1beta1.NamespacedPod{NamespaceSelector: *tier(i), PodSelector: *app(i)}}
			p.Spec.Egress = []cnpv1beta1.ClusterNetworkPolicyEgressRule{{
				Action: cnpv1beta1.ClusterNetworkPolicyRuleActionPass,
				To:     []cnpv1beta1.ClusterNetworkPolicyEgressPeer{{Networks: []cnpv1beta1.CIDR{"192.168.0.0/16"}}},
			}}
		case 2:
			p.Spec.Tier = cnpv1beta1.BaselineTier
			p.Spec.Ingress = []cnpv1beta1.ClusterNetworkPolicyIngressRule{{
				Action: cnpv1beta1.ClusterNetworkPolicyRuleActionDeny,
				From:   []cnpv1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}},
			}}
		case 3:
			p.Spec.Tier = cnpv1beta1.BaselineTier
			p.Spec.Ingress = []cnpv1beta1.ClusterNetworkPolicyIngressRule{{
				Action:    cnpv1beta1.ClusterNetworkPolicyRuleActionAccept,
				From:      []cnpv1beta1.ClusterNetworkPolicyIngressPeer{{Pods: &cnpv1beta1.NamespacedPod{PodSelector: *app(i + 2)}}},
				Protocols: tcp(80, 80),
			}}
		}
		out = append(out, p)
	}
	return out
}

// BenchmarkDesiredWithClusterPolicies is BenchmarkDesired's world with 20
// ClusterNetworkPolicies around its 100 NetworkPolicies.
func BenchmarkDesiredWithClusterPolicies(b *testing.B) {
	in := world(1000, 100)
	in.ClusterPolicies = clusterPolicies(20)
	var rules []netpol.Rules
	for b.Loop() {
		var problems []string
		rules, problems = netpol.Desired(in)
		if len(problems) > 0 {
			b.Fatalf("the benchmark's policies are refused: %v", problems[0])
		}
	}
	b.ReportMetric(float64(len(rules)), "local-pods")
	b.ReportMetric(float64(elements(rules)), "set-elements")
}
