package svcproxy

import (
	"context"
	"net"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"metropolis.dev/metropolis/node/kubernetes/internal/netnstest"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// TestProxyKernelUDP checks that a UDP client that keeps its source port
// (as a resolver does) follows an endpoint change: the conntrack entry of
// the removed endpoint must go, although that endpoint still answers.
func TestProxyKernelUDP(t *testing.T) {
	netnstest.RequireRoot(t)
	node := netnstest.NewNode(t)
	pod1, pod2, client := node.AddPod(1), node.AddPod(2), node.AddPod(3)
	netnstest.ServeUDP(t, pod1, 5353, "pod1")
	netnstest.ServeUDP(t, pod2, 5353, "pod2")

	ctx := context.Background()
	cs := fake.NewClientset()
	udp := corev1.ProtocolUDP
	svc := service("dns", "10.96.0.53", svcPort("dns", udp, 53, "dns"))
	ports := []discoveryv1.EndpointPort{slicePortOf("dns", udp, 5353)}
	slice := endpointSlice("dns-1", "dns", discoveryv1.AddressTypeIPv4, ports, ready("10.99.1.2"))
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Client: cs, NodeName: "test", NetNS: int(node.NS), MinSyncInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	supervisor.TestHarness(t, p.Run)

	var conn net.Conn
	err = netnstest.Do(client, func() (err error) {
		conn, err = net.Dial("udp4", "10.96.0.53:53")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	askUDP := func() (string, error) {
		if _, err := conn.Write([]byte("?")); err != nil {
			return "", err
		}
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 64)
		n, err := conn.Read(buf)
		return string(buf[:n]), err
	}
	expectAnswers(t, "pod3 → UDP ClusterIP", askUDP, "pod1")

	slice.Endpoints = []discoveryv1.Endpoint{ready("10.99.2.2")}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expectAnswers(t, "pod3 → UDP ClusterIP, same source port, after the endpoint moved", askUDP, "pod2")
}
