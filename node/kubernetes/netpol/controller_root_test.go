package netpol

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"metropolis.dev/metropolis/node/kubernetes/internal/netnstest"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// TestControllerFollowsTheAPI runs the controller against the real kernel in a
// test node namespace with three pods and a fake API: policies, pod labels,
// namespace labels and named ports change in turn, and each time the traffic
// the test sees follows within a few seconds.
func TestControllerFollowsTheAPI(t *testing.T) {
	netnstest.RequireRoot(t)
	n := netnstest.NewNode(t)
	pod1, pod2, pod3 := n.AddPod(1), n.AddPod(2), n.AddPod(3)
	for _, port := range []int{8080, 8081} {
		netnstest.Serve(t, pod1, port, "pod1")
	}

	ctx := context.Background()
	cs := fake.NewClientset(
		namespace("web", nil), namespace("clients", nil),
		pod("web", "server", node, "10.99.1.2", map[string]string{"app": "web"}, containerPort("http", corev1.ProtocolTCP, 8080)),
		pod("clients", "a", node, "10.99.2.2", map[string]string{"role": "client"}),
		pod("web", "b", node, "10.99.3.2", map[string]string{"role": "client"}),
	)
	c, err := New(Config{Client: cs, NodeName: node, NetNS: int(n.NS), MinSyncInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	supervisor.TestHarness(t, c.Run)

	reach := func(what string, from netns.NsHandle, to string, want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := netnstest.Ask(from, to)
			if (err == nil) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: after 10 s, reached=%v (%v), want reached=%v", what, err == nil, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	reach("no policy: clients/a → server", pod2, "10.99.1.2:8080", true)

	deny := netPolicy("web", "deny", map[string]string{"app": "web"}, networkingv1.PolicyTypeIngress)
	if _, err := cs.NetworkingV1().NetworkPolicies("web").Create(ctx, deny, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	reach("deny-all: clients/a → server", pod2, "10.99.1.2:8080", false)
	reach("deny-all: web/b (same namespace) → server", pod3, "10.99.1.2:8080", false)
	reach("deny-all: the node → server", n.NS, "10.99.1.2:8080", true)

	allow := withIngress(netPolicy("web", "allow", map[string]string{"app": "web"}),
		peers(nsPeer(map[string]string{"trusted": "yes"})), namedPort(corev1.ProtocolTCP, "http"))
	if _, err := cs.NetworkingV1().NetworkPolicies("web").Create(ctx, allow, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Update(ctx, namespace("clients", map[string]string{"trusted": "yes"}), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	reach("labelled namespace: clients/a → server:http", pod2, "10.99.1.2:8080", true)
	reach("labelled namespace: clients/a → server:8081 (not the named port)", pod2, "10.99.1.2:8081", false)
	reach("unlabelled namespace: web/b → server", pod3, "10.99.1.2:8080", false)

	// The named port moves to 8081: the rule follows the pod.
	moved := pod("web", "server", node, "10.99.1.2", map[string]string{"app": "web"}, containerPort("http", corev1.ProtocolTCP, 8081))
	if _, err := cs.CoreV1().Pods("web").Update(ctx, moved, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	reach("named port moved: clients/a → server:8081", pod2, "10.99.1.2:8081", true)
	reach("named port moved: clients/a → server:8080", pod2, "10.99.1.2:8080", false)

	for _, name := range []string{"deny", "allow"} {
		if err := cs.NetworkingV1().NetworkPolicies("web").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i, from := range []netns.NsHandle{pod2, pod3} {
		reach(fmt.Sprintf("policies removed: pod%d → server", i+2), from, "10.99.1.2:8080", true)
	}
}
