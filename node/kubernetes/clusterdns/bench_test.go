package clusterdns

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkResolve measures answering a ClusterIP A question in process (no sockets).
func BenchmarkResolve(b *testing.B) {
	h := testHandler(b)
	req := new(dns.Msg).SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
	for b.Loop() {
		if r := h.reply(req, false); len(r.Answer) != 1 {
			b.Fatalf("reply %v", r)
		}
	}
}

// BenchmarkQueryUDP measures queries per second over UDP on loopback, from 4 concurrent
// clients, a ClusterIP A question each.
func BenchmarkQueryUDP(b *testing.B) {
	_, _, addr := startServer(b, nil, testObjects()...)
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
		conn, err := c.Dial(addr)
		if err != nil {
			b.Errorf("dial: %v", err)
			return
		}
		defer conn.Close()
		req := new(dns.Msg).SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
		for pb.Next() {
			r, _, err := c.ExchangeWithConn(req, conn)
			if err != nil || len(r.Answer) != 1 {
				b.Errorf("query: %v %v", err, r)
				return
			}
		}
	})
}
