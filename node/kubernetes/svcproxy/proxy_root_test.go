package svcproxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"metropolis.dev/metropolis/node/kubernetes/internal/netnstest"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// TestProxyKernel runs the proxy against the real kernel in a test "node"
// namespace with three pods: pod1 and pod2 serve on :8080, pod3 is a
// client. It checks traffic from the node (output hook), from a pod
// (prerouting), hairpin (pod1 reaching itself), NodePort, endpoint
// changes, rejection without endpoints, and Service removal.
func TestProxyKernel(t *testing.T) {
	netnstest.RequireRoot(t)
	node := netnstest.NewNode(t)
	pod1, pod2, client := node.AddPod(1), node.AddPod(2), node.AddPod(3)
	node.RouteVia("10.96.0.0/16", 1)
	netnstest.Serve(t, pod1, 8080, "pod1")
	netnstest.Serve(t, pod2, 8080, "pod2")

	ctx := context.Background()
	cs := fake.NewClientset()
	svc := service("web", "10.96.0.10", svcPort("http", corev1.ProtocolTCP, 80, "http"))
	svc.Spec.Type = corev1.ServiceTypeNodePort
	svc.Spec.Ports[0].NodePort = 30080
	ports := []discoveryv1.EndpointPort{slicePortOf("http", corev1.ProtocolTCP, 8080)}
	slice := endpointSlice("web-1", "web", discoveryv1.AddressTypeIPv4, ports, ready("10.99.1.2"), ready("10.99.2.2"))
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	p, err := New(Config{Client: cs, NodeName: "test", NetNS: int(node.NS), MinSyncInterval: 50 * time.Millisecond,
		ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/16")}})
	if err != nil {
		t.Fatal(err)
	}
	supervisor.TestHarness(t, p.Run)

	clusterIP := "10.96.0.10:80"
	// Both backends answer, from the node, from a pod, and from pod1
	// itself (half of its connections hairpin back to it).
	expectAnswers(t, "node → ClusterIP", func() (string, error) { return netnstest.Ask(node.NS, clusterIP) }, "pod1", "pod2")
	expectAnswers(t, "pod3 → ClusterIP", func() (string, error) { return netnstest.Ask(client, clusterIP) }, "pod1", "pod2")
	expectAnswers(t, "pod1 → ClusterIP (hairpin)", func() (string, error) { return netnstest.Ask(pod1, clusterIP) }, "pod1", "pod2")
	expectAnswers(t, "pod3 → NodePort", func() (string, error) { return netnstest.Ask(client, "10.99.3.1:30080") }, "pod1", "pod2")

	// pod1 stops being ready: only pod2 answers.
	slice.Endpoints = []discoveryv1.Endpoint{notReady("10.99.1.2"), ready("10.99.2.2")}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expectAnswers(t, "node → ClusterIP after pod1 unready", func() (string, error) { return netnstest.Ask(node.NS, clusterIP) }, "pod2")

	// No ready endpoint: connections are refused (TCP reset), from the
	// node and from a pod, at once rather than after a timeout.
	slice.Endpoints = []discoveryv1.Endpoint{notReady("10.99.1.2")}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expectRefused(t, "node → ClusterIP without endpoints", node.NS, clusterIP)
	expectRefused(t, "pod3 → ClusterIP without endpoints", client, clusterIP)

	// The Service is gone: nothing answers.
	slice.Endpoints = []discoveryv1.Endpoint{ready("10.99.1.2")}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expectAnswers(t, "node → ClusterIP with pod1 back", func() (string, error) { return netnstest.Ask(node.NS, clusterIP) }, "pod1")
	if err := cs.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		answer, err := netnstest.Ask(client, clusterIP)
		if err != nil {
			t.Logf("after delete: %v (as expected)", err)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClusterIP still answers (%q) 10s after the Service was deleted", answer)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expectAnswers asks until the set of answers of the last 20 tries is
// exactly want (every one of them seen, nothing else), for up to 10 s.
func expectAnswers(t *testing.T, what string, ask func() (string, error), want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		seen := map[string]int{}
		ok := true
		for i := 0; i < 20 && ok; i++ {
			answer, err := ask()
			if err != nil {
				last, ok = err.Error(), false
				break
			}
			seen[answer]++
		}
		if ok {
			last = fmt.Sprint(seen)
			good := len(seen) == len(want)
			for _, w := range want {
				good = good && seen[w] > 0
			}
			if good {
				t.Logf("%s: %v", what, seen)
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: want answers from %v, last round: %s", what, want, last)
}

// expectRefused asks until the connection is refused (a reset, not a
// timeout), for up to 10 s.
func expectRefused(t *testing.T, what string, ns netns.NsHandle, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		answer, err := netnstest.Ask(ns, addr)
		if errors.Is(err, syscall.ECONNREFUSED) {
			t.Logf("%s: %v", what, err)
			return
		}
		last = fmt.Sprintf("answer %q, error %v", answer, err)
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: want connection refused, last try: %s", what, last)
}
