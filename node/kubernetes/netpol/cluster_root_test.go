package netpol

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"
	cnpfake "sigs.k8s.io/network-policy-api/pkg/client/clientset/versioned/fake"

	"metropolis.dev/metropolis/node/kubernetes/internal/netnstest"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// TestControllerEnforcesClusterPolicies runs the controller against the
// real kernel with a fake API that starts without the ClusterNetworkPolicy
// API: NetworkPolicies are enforced alone until it appears, then the
// controller restarts with it, and the tiers decide in their order: an
// Admin deny beats a NetworkPolicy's allow, a Pass hands over to it, and a
// Baseline deny holds only where no NetworkPolicy selects the pod.
func TestControllerEnforcesClusterPolicies(t *testing.T) {
	netnstest.RequireRoot(t)
	n := netnstest.NewNode(t)
	server, client, neighbour := n.AddPod(1), n.AddPod(2), n.AddPod(3)
	netnstest.Serve(t, server, 8080, "server")

	ctx := context.Background()
	cs := fake.NewClientset(
		namespace("web", nil), namespace("clients", nil),
		pod("web", "server", node, "10.99.1.2", map[string]string{"app": "web"}),
		pod("clients", "a", node, "10.99.2.2", map[string]string{"role": "client"}),
		pod("web", "b", node, "10.99.3.2", map[string]string{"role": "client"}),
	)
	cs.Resources = []*metav1.APIResourceList{{GroupVersion: clusterPolicyAPI, APIResources: []metav1.APIResource{{Name: "clusternetworkpolicies"}}}}
	var served atomic.Bool
	cs.PrependReactor("get", "resource", func(k8stesting.Action) (bool, runtime.Object, error) {
		if served.Load() {
			return true, nil, nil // discovery then answers from cs.Resources
		}
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: cnpv1beta1.GroupName}, clusterPolicyAPI)
	})
	cnps := cnpfake.NewSimpleClientset() // NewClientset has no schema for the CRD's types
	c, err := New(Config{Client: cs, ClusterPolicyClient: cnps, NodeName: node, NetNS: int(n.NS), MinSyncInterval: 20 * time.Millisecond, APICheckInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	supervisor.TestHarness(t, c.Run)

	reach := func(what string, from netns.NsHandle, want bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, err := netnstest.Ask(from, "10.99.1.2:8080")
			if (err == nil) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: after 15 s, reached=%v (%v), want reached=%v", what, err == nil, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	allowClients := withIngress(netPolicy("web", "allow-clients", map[string]string{"app": "web"}),
		peers(nsPeer(map[string]string{"kubernetes.io/metadata.name": "clients"})))
	if _, err := cs.NetworkingV1().NetworkPolicies("web").Create(ctx, allowClients, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	reach("NetworkPolicy alone: clients/a → server", client, true)
	reach("NetworkPolicy alone: web/b → server", neighbour, false)

	denyClients := cnpIngress(cnp("deny-clients", admin, 10, nil), cnpDeny, fromNamespaces(map[string]string{"kubernetes.io/metadata.name": "clients"}))
	if _, err := cnps.PolicyV1beta1().ClusterNetworkPolicies().Create(ctx, denyClients, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	served.Store(true)
	reach("admin deny over a NetworkPolicy allow: clients/a → server", client, false)

	denyClients.Spec.Ingress[0].Action = cnpPass
	if _, err := cnps.PolicyV1beta1().ClusterNetworkPolicies().Update(ctx, denyClients, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	reach("admin pass hands over: clients/a → server", client, true)

	if err := cnps.PolicyV1beta1().ClusterNetworkPolicies().Delete(ctx, "deny-clients", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	baselineDeny := cnpIngress(cnp("default", baseline, 0, nil), cnpDeny, fromNamespaces(nil))
	if _, err := cnps.PolicyV1beta1().ClusterNetworkPolicies().Create(ctx, baselineDeny, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	reach("baseline deny under a NetworkPolicy allow: clients/a → server", client, true)
	if err := cs.NetworkingV1().NetworkPolicies("web").Delete(ctx, "allow-clients", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	reach("baseline deny alone: clients/a → server", client, false)
	reach("baseline deny alone: the node → server", n.NS, true)
	if err := cnps.PolicyV1beta1().ClusterNetworkPolicies().Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	reach("no policy: web/b → server", neighbour, true)
}
