package clusterdns

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/kubernetes/fake"

	"metropolis.dev/metropolis/osbase/supervisor"
)

// TestAlsoListen: the server answers alike on its extra addresses, and an extra address
// without a fixed port is refused by name.
func TestAlsoListen(t *testing.T) {
	if _, err := New(Config{Client: fake.NewClientset(), Listen: "127.0.0.1:0", AlsoListen: []string{"127.0.0.1:0"}}); err == nil || !strings.Contains(err.Error(), "AlsoListen") {
		t.Errorf("New with AlsoListen on port 0: %v, want an error naming AlsoListen", err)
	}
	// A port free on both UDP and TCP, most likely still free a moment later.
	probe, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	also := probe.LocalAddr().String()
	probe.Close()

	srv, err := New(Config{Client: fake.NewClientset(testObjects()...), Listen: "127.0.0.1:0", AlsoListen: []string{also}})
	if err != nil {
		t.Fatal(err)
	}
	supervisor.TestHarness(t, srv.Run)
	select {
	case <-srv.Ready():
	case <-time.After(patience):
		t.Fatalf("server not ready after %v", patience)
	}
	for _, addr := range []string{srv.Addr().String(), also} {
		for _, network := range []string{"udp", "tcp"} {
			reply := query(t, addr, network, "web.default.svc.cluster.local.", dns.TypeA)
			if err := expectAnswer(reply, dns.RcodeSuccess, []string{"A 10.96.0.10"}); err != nil {
				t.Errorf("%s %s: %v", network, addr, err)
			}
		}
	}
}
