package clusterdns

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"metropolis.dev/metropolis/osbase/supervisor"
)

// clusterIPService is a Service with cluster IPs ips and named TCP ports.
func clusterIPService(ns, name string, ips []string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: ips[0], ClusterIPs: ips, Ports: ports,
		},
	}
}

func headlessService(ns, name string, ports ...corev1.ServicePort) *corev1.Service {
	return clusterIPService(ns, name, []string{corev1.ClusterIPNone}, ports...)
}

func externalNameService(ns, name, target string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: target},
	}
}

func tcpPort(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP}
}

// testEndpoint is one endpoint of a test EndpointSlice.
type testEndpoint struct {
	addr     string
	hostname string
	notReady bool
}

// endpointSlice is an EndpointSlice of Service ns/svc with one TCP port.
func endpointSlice(ns, svc, name string, portName string, port int32, eps ...testEndpoint) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port}},
	}
	for _, ep := range eps {
		ready := !ep.notReady
		e := discoveryv1.Endpoint{Addresses: []string{ep.addr}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}
		if a := netip.MustParseAddr(ep.addr); a.Is6() {
			s.AddressType = discoveryv1.AddressTypeIPv6
		}
		if ep.hostname != "" {
			e.Hostname = &ep.hostname
		}
		s.Endpoints = append(s.Endpoints, e)
	}
	return s
}

// patience bounds every wait in these tests: generous, because a loaded machine is slow.
const patience = 10 * time.Second

// startServer runs a Server over a fake clientset holding objs, listening on 127.0.0.1:0, and
// returns it once it answers from synced caches.
func startServer(t testing.TB, upstreams []string, objs ...runtime.Object) (*Server, *fake.Clientset, string) {
	t.Helper()
	client := fake.NewClientset(objs...)
	srv, err := New(Config{Client: client, Listen: "127.0.0.1:0", Upstreams: upstreams})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	supervisor.TestHarness(t, srv.Run)
	select {
	case <-srv.Ready():
	case <-time.After(patience):
		t.Fatalf("server not ready after %v", patience)
	}
	return srv, client, srv.Addr().String()
}

// query asks addr about name over network ("udp" or "tcp") and fails the test if no reply
// comes.
func query(t testing.TB, addr, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 3 * time.Second}
	m := new(dns.Msg).SetQuestion(name, qtype)
	reply, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return reply
}

// records writes a section as sorted "TYPE rdata" strings, which tests compare.
func records(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		h := rr.Header().String()
		out = append(out, dns.TypeToString[rr.Header().Rrtype]+" "+strings.TrimSpace(strings.TrimPrefix(rr.String(), h)))
	}
	sort.Strings(out)
	return out
}

// expectAnswer returns nil if reply has rcode and exactly the answer records want.
func expectAnswer(reply *dns.Msg, rcode int, want []string) error {
	got := records(reply.Answer)
	if reply.Rcode != rcode || strings.Join(got, "|") != strings.Join(want, "|") {
		return fmt.Errorf("got %s %q, want %s %q", dns.RcodeToString[reply.Rcode], got,
			dns.RcodeToString[rcode], want)
	}
	return nil
}
