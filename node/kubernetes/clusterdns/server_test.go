package clusterdns

import (
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// testObjects is the cluster the table tests query.
func testObjects() []runtime.Object {
	dual := clusterIPService("default", "dual", []string{"10.96.0.20", "fd00::20"})
	dual.Spec.Ports = []corev1.ServicePort{
		tcpPort("http", 80),
		{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
	}
	return []runtime.Object{
		clusterIPService("default", "web", []string{"10.96.0.10"}, tcpPort("http", 80), tcpPort("", 8080)),
		dual,
		clusterIPService("other", "v6only", []string{"fd00::30"}),
		headlessService("default", "db", tcpPort("pg", 5432)),
		endpointSlice("default", "db", "db-1", "pg", 5432,
			testEndpoint{addr: "10.1.0.1", hostname: "db-0"},
			testEndpoint{addr: "10.1.0.2"},
			testEndpoint{addr: "10.1.0.3", notReady: true}),
		endpointSlice("default", "db", "db-2", "pg", 5432, testEndpoint{addr: "10.1.0.1", hostname: "db-0"}),
		externalNameService("default", "alias", "web.default.svc.cluster.local"),
		externalNameService("default", "outside", "example.org"),
	}
}

func TestClusterAnswers(t *testing.T) {
	_, _, addr := startServer(t, nil, testObjects()...)
	const soaOnly = true
	for _, tc := range []struct {
		desc    string
		name    string
		qtype   uint16
		rcode   int
		answer  []string
		extra   []string
		wantSOA bool
	}{
		{"ClusterIP A", "web.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess,
			[]string{"A 10.96.0.10"}, nil, false},
		{"names are case-insensitive", "WeB.DeFault.SVC.Cluster.Local.", dns.TypeA, dns.RcodeSuccess,
			[]string{"A 10.96.0.10"}, nil, false},
		{"ClusterIP AAAA of an IPv4 Service is NODATA", "web.default.svc.cluster.local.", dns.TypeAAAA,
			dns.RcodeSuccess, nil, nil, soaOnly},
		{"dual-stack A", "dual.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess,
			[]string{"A 10.96.0.20"}, nil, false},
		{"dual-stack AAAA", "dual.default.svc.cluster.local.", dns.TypeAAAA, dns.RcodeSuccess,
			[]string{"AAAA fd00::20"}, nil, false},
		{"IPv6-only AAAA", "v6only.other.svc.cluster.local.", dns.TypeAAAA, dns.RcodeSuccess,
			[]string{"AAAA fd00::30"}, nil, false},
		{"TXT of a Service is NODATA", "web.default.svc.cluster.local.", dns.TypeTXT, dns.RcodeSuccess,
			nil, nil, soaOnly},
		{"unknown Service", "nope.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil, nil, soaOnly},
		{"search-path name", "example.com.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError,
			nil, nil, soaOnly},
		{"unknown namespace", "web.nope.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil, nil, soaOnly},
		{"namespace with Services", "default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, nil, nil, soaOnly},
		{"namespace without Services", "nope.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil, nil, soaOnly},
		{"other name under the domain", "foo.cluster.local.", dns.TypeA, dns.RcodeNameError, nil, nil, soaOnly},
		{"apex SOA", "cluster.local.", dns.TypeSOA, dns.RcodeSuccess,
			[]string{"SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"}, nil, false},
		{"schema version", "dns-version.cluster.local.", dns.TypeTXT, dns.RcodeSuccess,
			[]string{`TXT "1.1.0"`}, nil, false},
		{"headless A: ready endpoints once each", "db.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess,
			[]string{"A 10.1.0.1", "A 10.1.0.2"}, nil, false},
		{"headless endpoint by hostname", "db-0.db.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess,
			[]string{"A 10.1.0.1"}, nil, false},
		{"headless endpoint by dashed address", "10-1-0-2.db.default.svc.cluster.local.", dns.TypeA,
			dns.RcodeSuccess, []string{"A 10.1.0.2"}, nil, false},
		{"not-ready endpoint", "10-1-0-3.db.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError,
			nil, nil, soaOnly},
		{"endpoint name of a ClusterIP Service", "x.web.default.svc.cluster.local.", dns.TypeA,
			dns.RcodeNameError, nil, nil, soaOnly},
		{"ClusterIP SRV", "_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"SRV 0 100 80 web.default.svc.cluster.local."}, []string{"A 10.96.0.10"}, false},
		{"UDP port SRV", "_dns._udp.dual.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"SRV 0 100 53 dual.default.svc.cluster.local."}, []string{"A 10.96.0.20", "AAAA fd00::20"}, false},
		{"SRV of a port with another protocol", "_dns._tcp.dual.default.svc.cluster.local.", dns.TypeSRV,
			dns.RcodeNameError, nil, nil, soaOnly},
		{"SRV of an unknown port", "_nope._tcp.web.default.svc.cluster.local.", dns.TypeSRV,
			dns.RcodeNameError, nil, nil, soaOnly},
		{"headless SRV", "_pg._tcp.db.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"SRV 0 100 5432 10-1-0-2.db.default.svc.cluster.local.", "SRV 0 100 5432 db-0.db.default.svc.cluster.local."},
			[]string{"A 10.1.0.1", "A 10.1.0.2"}, false},
		{"ExternalName inside the domain is followed", "alias.default.svc.cluster.local.", dns.TypeA,
			dns.RcodeSuccess, []string{"A 10.96.0.10", "CNAME web.default.svc.cluster.local."}, nil, false},
		{"ExternalName without upstream: CNAME alone", "outside.default.svc.cluster.local.", dns.TypeA,
			dns.RcodeSuccess, []string{"CNAME example.org."}, nil, false},
		{"ExternalName CNAME query", "alias.default.svc.cluster.local.", dns.TypeCNAME,
			dns.RcodeSuccess, []string{"CNAME web.default.svc.cluster.local."}, nil, false},
		{"PTR of a ClusterIP", "10.0.96.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess,
			[]string{"PTR web.default.svc.cluster.local."}, nil, false},
		{"PTR of a headless endpoint", "1.0.1.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess,
			[]string{"PTR db-0.db.default.svc.cluster.local."}, nil, false},
		{"pod name", "10-2-3-4.default.pod.cluster.local.", dns.TypeA, dns.RcodeSuccess,
			[]string{"A 10.2.3.4"}, nil, false},
	} {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(network+"/"+tc.desc, func(t *testing.T) {
				reply := query(t, addr, network, tc.name, tc.qtype)
				if err := expectAnswer(reply, tc.rcode, tc.answer); err != nil {
					t.Fatalf("%s %s: %v", tc.name, dns.TypeToString[tc.qtype], err)
				}
				if got, want := records(reply.Extra), tc.extra; len(got)+len(want) > 0 && !equal(got, want) {
					t.Errorf("additional section %q, want %q", got, want)
				}
				hasSOA := len(reply.Ns) == 1 && reply.Ns[0].Header().Rrtype == dns.TypeSOA
				if hasSOA != tc.wantSOA {
					t.Errorf("authority section %v, want SOA: %v", reply.Ns, tc.wantSOA)
				}
				if !reply.Authoritative {
					t.Errorf("reply not authoritative")
				}
				for _, rr := range reply.Answer {
					if rr.Header().Ttl < 5 || rr.Header().Ttl > 30 {
						t.Errorf("TTL %d of %v outside 5..30", rr.Header().Ttl, rr)
					}
				}
			})
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
