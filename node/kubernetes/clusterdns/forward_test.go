package clusterdns

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startUpstream runs a DNS server on 127.0.0.1 (UDP and TCP) answering every A question
// with addr (or with rcode if not success) and returns its address.
func startUpstream(t *testing.T, addr string, rcode int) string {
	t.Helper()
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetRcode(req, rcode)
		if rcode == dns.RcodeSuccess && req.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   net.ParseIP(addr),
			})
		}
		_ = w.WriteMsg(m)
	})
	udp, tcp, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("upstream: %v", err)
	}
	for _, srv := range []*dns.Server{{PacketConn: udp, Handler: handler}, {Listener: tcp, Handler: handler}} {
		go func() { _ = srv.ActivateAndServe() }()
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return udp.LocalAddr().String()
}

// deadUpstream is a bound UDP port that never answers.
func deadUpstream(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dead upstream: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

func TestForwarding(t *testing.T) {
	good := startUpstream(t, "192.0.2.1", dns.RcodeSuccess)
	refusing := startUpstream(t, "", dns.RcodeRefused)
	dead := deadUpstream(t)
	for _, tc := range []struct {
		desc      string
		upstreams []string
		name      string
		rcode     int
		answer    []string
		within    time.Duration
	}{
		{"outside name forwarded", []string{good}, "example.com.", dns.RcodeSuccess, []string{"A 192.0.2.1"}, time.Second},
		{"refusing upstream skipped", []string{refusing, good}, "example.com.", dns.RcodeSuccess, []string{"A 192.0.2.1"}, time.Second},
		{"dead upstream skipped after its timeout", []string{dead, good}, "example.com.", dns.RcodeSuccess,
			[]string{"A 192.0.2.1"}, upstreamTimeout + time.Second},
		{"no upstream: REFUSED at once", nil, "example.com.", dns.RcodeRefused, nil, 200 * time.Millisecond},
		{"all upstreams refuse", []string{refusing}, "example.com.", dns.RcodeRefused, nil, time.Second},
		{"cluster name never waits on a dead upstream", []string{dead}, "example.com.default.svc.cluster.local.",
			dns.RcodeNameError, nil, 200 * time.Millisecond},
		{"ExternalName followed upstream", []string{good}, "outside.default.svc.cluster.local.", dns.RcodeSuccess,
			[]string{"A 192.0.2.1", "CNAME example.org."}, time.Second},
		{"PTR outside the cluster forwarded", nil, "1.2.0.192.in-addr.arpa.", dns.RcodeRefused, nil, 200 * time.Millisecond},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, _, addr := startServer(t, tc.upstreams, externalNameService("default", "outside", "example.org"))
			for _, network := range []string{"udp", "tcp"} {
				start := time.Now()
				qtype := dns.TypeA
				if dns.IsSubDomain("in-addr.arpa.", tc.name) {
					qtype = dns.TypePTR
				}
				reply := query(t, addr, network, tc.name, qtype)
				if took := time.Since(start); took > tc.within {
					t.Errorf("%s: reply after %v, want within %v", network, took, tc.within)
				}
				if err := expectAnswer(reply, tc.rcode, tc.answer); err != nil {
					t.Errorf("%s: %v", network, err)
				}
			}
		})
	}
}

// TestSetUpstreams replaces a running server's upstreams: outside names follow the new list at
// once, and a malformed list is refused whole, leaving the old one in place.
func TestSetUpstreams(t *testing.T) {
	first := startUpstream(t, "192.0.2.1", dns.RcodeSuccess)
	second := startUpstream(t, "192.0.2.2", dns.RcodeSuccess)
	srv, _, addr := startServer(t, nil)
	for _, step := range []struct {
		desc      string
		upstreams []string
		wantErr   bool
		rcode     int
		answer    []string
	}{
		{"none at start: REFUSED", nil, false, dns.RcodeRefused, nil},
		{"first upstream set", []string{first}, false, dns.RcodeSuccess, []string{"A 192.0.2.1"}},
		{"replaced by the second", []string{second}, false, dns.RcodeSuccess, []string{"A 192.0.2.2"}},
		{"malformed list refused, second kept", []string{first, "no-port"}, true, dns.RcodeSuccess, []string{"A 192.0.2.2"}},
		{"emptied: REFUSED again", []string{}, false, dns.RcodeRefused, nil},
	} {
		if step.upstreams != nil {
			err := srv.SetUpstreams(step.upstreams)
			if (err != nil) != step.wantErr {
				t.Fatalf("%s: SetUpstreams(%q) = %v, want error: %v", step.desc, step.upstreams, err, step.wantErr)
			}
		}
		if err := expectAnswer(query(t, addr, "udp", "example.com.", dns.TypeA), step.rcode, step.answer); err != nil {
			t.Errorf("%s: %v", step.desc, err)
		}
	}
}
