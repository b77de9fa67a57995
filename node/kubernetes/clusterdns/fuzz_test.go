package clusterdns

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"k8s.io/client-go/kubernetes/fake"
)

var fuzzNames = []string{
	"web.default.svc.cluster.local.", "WEB.default.svc.cluster.local", "cluster.local.",
	"_http._tcp.web.default.svc.cluster.local.", "_pg._tcp.db.default.svc.cluster.local.",
	"db-0.db.default.svc.cluster.local.", "10-1-0-2.db.default.svc.cluster.local.",
	"fd00--1.default.pod.cluster.local.", "a\\.b.svc.cluster.local.", "..cluster.local.",
	"x.y.z.w.v.svc.cluster.local.", "_.svc.cluster.local.", "example.com.", "xcluster.local.",
	"alias.default.svc.cluster.local.", "10.0.96.10.in-addr.arpa.", "dns-version.cluster.local.",
}

// FuzzSplitClusterName checks that taking a name apart never panics, ignores case, and that
// what it finds is made of the name's own labels.
func FuzzSplitClusterName(f *testing.F) {
	for _, n := range fuzzNames {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, in := splitClusterName(name, "cluster.local.")
		upper, inUpper := splitClusterName(strings.ToUpper(name), "cluster.local.")
		if isASCII(name) && (in != inUpper || n != upper) {
			t.Errorf("%q is %+v (%v) but in upper case %+v (%v)", name, n, in, upper, inUpper)
		}
		if in && n.kind == kindService {
			want := n.service + "." + n.namespace + ".svc.cluster.local."
			if got := strings.ToLower(dns.Fqdn(name)); got != want {
				t.Errorf("%q taken apart as Service %s/%s, which is named %q", name, n.namespace, n.service, want)
			}
		}
		if _, ok := parsePtrName(name); ok && in {
			t.Errorf("%q is both a reverse name and under the cluster domain", name)
		}
	})
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

var (
	fuzzHandlerOnce sync.Once
	fuzzHandler     *handler
)

// testHandler is a handler over synced caches of testObjects, with no upstream, shared by
// the fuzz target's runs (its informers run until the process ends).
func testHandler(tb testing.TB) *handler {
	fuzzHandlerOnce.Do(func() {
		cat, err := startCatalog(context.Background(), fake.NewClientset(testObjects()...))
		if err != nil {
			tb.Fatalf("starting catalog: %v", err)
		}
		fuzzHandler = &handler{ctx: context.Background(), domain: "cluster.local.", fwd: newForwarder(nil)}
		fuzzHandler.res.Store(&resolver{domain: "cluster.local.", cat: cat})
	})
	return fuzzHandler
}

// FuzzHandleMessage feeds arbitrary packed messages to the handler: it must never panic, and
// every reply it makes must pack, match the query's ID and survive truncation to 512 bytes.
func FuzzHandleMessage(f *testing.F) {
	for _, n := range fuzzNames {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypeANY, dns.TypePTR, dns.TypeTXT} {
			m := new(dns.Msg).SetQuestion(dns.Fqdn(n), qtype)
			if qtype == dns.TypeAAAA {
				m.SetEdns0(1232, true)
			}
			if packed, err := m.Pack(); err == nil {
				f.Add(packed)
			}
		}
	}
	h := testHandler(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(data); err != nil {
			return
		}
		for _, overTCP := range []bool{false, true} {
			reply := h.reply(req, overTCP)
			if reply == nil {
				if !req.Response {
					t.Fatalf("no reply to query %v", req)
				}
				continue
			}
			if reply.Id != req.Id || !reply.Response {
				t.Errorf("reply ID %d response %v to query ID %d", reply.Id, reply.Response, req.Id)
			}
			if _, err := reply.Pack(); err != nil {
				t.Errorf("reply to %v does not pack: %v", req.Question, err)
			}
			reply.Truncate(dns.MinMsgSize)
			if packed, err := reply.Pack(); err == nil && len(packed) > dns.MinMsgSize {
				t.Errorf("truncated reply is %d bytes", len(packed))
			}
		}
	})
}
