package clusterdns

import (
	"context"
	"fmt"
	"testing"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"metropolis.dev/metropolis/osbase/eventually"
)

// TestServiceChangesSeen checks that answers follow the apiserver: a new Service appears, a
// changed ClusterIP is answered, a deleted Service is NXDOMAIN again.
func TestServiceChangesSeen(t *testing.T) {
	_, client, addr := startServer(t, nil)
	ctx := context.Background()
	const name = "app.default.svc.cluster.local."
	if err := expectAnswer(query(t, addr, "udp", name, dns.TypeA), dns.RcodeNameError, nil); err != nil {
		t.Fatalf("before creation: %v", err)
	}

	svc := clusterIPService("default", "app", []string{"10.96.1.1"})
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Service: %v", err)
	}
	eventually.Pass(t, patience, "created Service answered", func(context.Context) error {
		return expectAnswer(query(t, addr, "udp", name, dns.TypeA), dns.RcodeSuccess, []string{"A 10.96.1.1"})
	})

	svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "10.96.1.2", []string{"10.96.1.2"}
	if _, err := client.CoreV1().Services("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("updating Service: %v", err)
	}
	eventually.Pass(t, patience, "new ClusterIP answered", func(context.Context) error {
		return expectAnswer(query(t, addr, "tcp", name, dns.TypeA), dns.RcodeSuccess, []string{"A 10.96.1.2"})
	})

	if err := client.CoreV1().Services("default").Delete(ctx, "app", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting Service: %v", err)
	}
	eventually.Pass(t, patience, "deleted Service NXDOMAIN", func(context.Context) error {
		return expectAnswer(query(t, addr, "udp", name, dns.TypeA), dns.RcodeNameError, nil)
	})
}

// TestHeadlessEndpointsFollowReadiness checks that an endpoint becoming ready is published.
func TestHeadlessEndpointsFollowReadiness(t *testing.T) {
	slice := endpointSlice("default", "db", "db-1", "pg", 5432, testEndpoint{addr: "10.1.0.1", notReady: true})
	_, client, addr := startServer(t, nil, headlessService("default", "db"), slice)
	const name = "db.default.svc.cluster.local."
	if err := expectAnswer(query(t, addr, "udp", name, dns.TypeA), dns.RcodeSuccess, nil); err != nil {
		t.Fatalf("with no ready endpoint: %v", err)
	}
	ready := true
	slice.Endpoints[0].Conditions.Ready = &ready
	if _, err := client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), slice, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("updating EndpointSlice: %v", err)
	}
	eventually.Pass(t, patience, "ready endpoint answered", func(context.Context) error {
		return expectAnswer(query(t, addr, "udp", name, dns.TypeA), dns.RcodeSuccess, []string{"A 10.1.0.1"})
	})
}

// TestTruncationFallsBackToTCP checks that an answer too big for UDP is truncated there and
// whole over TCP, which miekg/dns's client (like glibc's) retries on.
func TestTruncationFallsBackToTCP(t *testing.T) {
	var eps []testEndpoint
	for i := range 100 {
		eps = append(eps, testEndpoint{addr: fmt.Sprintf("10.2.0.%d", i+1)})
	}
	_, _, addr := startServer(t, nil, headlessService("default", "big"),
		endpointSlice("default", "big", "big-1", "p", 80, eps...))
	const name = "big.default.svc.cluster.local."

	udp := query(t, addr, "udp", name, dns.TypeA)
	if !udp.Truncated || len(udp.Answer) >= 100 {
		t.Errorf("UDP reply: truncated %v with %d records, want truncated with fewer than 100", udp.Truncated, len(udp.Answer))
	}
	tcp := query(t, addr, "tcp", name, dns.TypeA)
	if tcp.Truncated || len(tcp.Answer) != 100 {
		t.Errorf("TCP reply: truncated %v with %d records, want all 100", tcp.Truncated, len(tcp.Answer))
	}
	m := new(dns.Msg).SetQuestion(name, dns.TypeA)
	m.SetEdns0(4096, false)
	edns, _, err := (&dns.Client{Net: "udp"}).Exchange(m, addr)
	if err != nil {
		t.Fatalf("EDNS query: %v", err)
	}
	if edns.Truncated || len(edns.Answer) != 100 || edns.IsEdns0() == nil {
		t.Errorf("UDP reply with EDNS 4096: truncated %v, %d records, OPT %v; want whole with OPT",
			edns.Truncated, len(edns.Answer), edns.IsEdns0())
	}
}
