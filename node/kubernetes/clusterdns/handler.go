package clusterdns

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"metropolis.dev/metropolis/osbase/logtree"
)

// forwardBudget bounds the time one client query may spend upstream, whatever the number of
// upstreams: the client will have given up and retried by then anyway.
const forwardBudget = 5 * time.Second

// maxCNAMEChain bounds how many ExternalName Services are followed for one answer, so that
// Services naming each other in a loop cost a bounded amount of work.
const maxCNAMEChain = 8

// handler answers DNS messages: the cluster domain from the resolver, the rest upstream.
type handler struct {
	ctx    context.Context
	domain string
	// res is nil until the caches are synced: cluster names are SERVFAIL (try again) until
	// then rather than a wrong NXDOMAIN, while other names are forwarded already.
	res atomic.Pointer[resolver]
	fwd *forwarder
	log *rateLimitedLog
}

// ServeDNS implements dns.Handler.
func (h *handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	_, overTCP := w.RemoteAddr().(*net.TCPAddr)
	reply := h.reply(req, overTCP)
	if reply == nil {
		return
	}
	if !overTCP {
		reply.Truncate(udpSize(req))
	}
	_ = w.WriteMsg(reply)
}

// udpSize is the largest UDP reply the client said it takes.
func udpSize(req *dns.Msg) int {
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
		size = min(int(opt.UDPSize()), dns.DefaultMsgSize)
	}
	return size
}

// reply builds the reply to req, nil if none is to be sent (req is itself a reply).
func (h *handler) reply(req *dns.Msg, overTCP bool) *dns.Msg {
	if req.Response {
		return nil
	}
	m := new(dns.Msg)
	if req.Opcode != dns.OpcodeQuery {
		return m.SetRcode(req, dns.RcodeNotImplemented)
	}
	if len(req.Question) != 1 {
		return m.SetRcodeFormatError(req)
	}
	q := req.Question[0]
	if n, inDomain := splitClusterName(q.Name, h.domain); inDomain {
		return h.replyCluster(req, n, overTCP)
	}
	if res := h.res.Load(); res != nil && q.Qtype == dns.TypePTR {
		if a, ok := parsePtrName(q.Name); ok {
			if r, ok := res.resolvePtr(q.Name, a); ok {
				return h.finish(req, r)
			}
		}
	}
	ctx, cancel := context.WithTimeout(h.ctx, forwardBudget)
	defer cancel()
	up, err := h.fwd.forward(ctx, req, overTCP)
	switch {
	case errors.Is(err, errNoUpstream):
		return m.SetRcode(req, dns.RcodeRefused)
	case err != nil:
		h.log.warn("forwarding %s %s: %v", q.Name, dns.TypeToString[q.Qtype], err)
		return m.SetRcode(req, dns.RcodeServerFailure)
	}
	up.Id = req.Id
	up.Question = req.Question
	return up
}

// replyCluster answers a question about a name under the cluster domain.
func (h *handler) replyCluster(req *dns.Msg, n clusterName, overTCP bool) *dns.Msg {
	q := req.Question[0]
	res := h.res.Load()
	if res == nil {
		return new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
	}
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		return new(dns.Msg).SetRcode(req, dns.RcodeRefused)
	}
	r := res.resolve(q.Name, q.Qtype, n)
	if q.Qtype != dns.TypeCNAME && q.Qtype != dns.TypeANY {
		r = h.followCNAMEs(res, r, q.Qtype, overTCP)
	}
	return h.finish(req, r)
}

// followCNAMEs adds to r the records its trailing CNAME (an ExternalName Service) points to:
// from the cluster domain, or from upstream (best effort: without an answer from there, the
// client gets the CNAME alone and may ask again).
func (h *handler) followCNAMEs(res *resolver, r result, qtype uint16, overTCP bool) result {
	for range maxCNAMEChain {
		if len(r.answer) == 0 {
			return r
		}
		cname, ok := r.answer[len(r.answer)-1].(*dns.CNAME)
		if !ok {
			return r
		}
		if n, inDomain := splitClusterName(cname.Target, h.domain); inDomain {
			next := res.resolve(cname.Target, qtype, n)
			r.rcode = next.rcode
			r.answer = append(r.answer, next.answer...)
			r.extra = append(r.extra, next.extra...)
			continue
		}
		q := new(dns.Msg).SetQuestion(cname.Target, qtype)
		ctx, cancel := context.WithTimeout(h.ctx, forwardBudget)
		up, err := h.fwd.forward(ctx, q, overTCP)
		cancel()
		if err == nil && (up.Rcode == dns.RcodeSuccess || up.Rcode == dns.RcodeNameError) {
			r.rcode = up.Rcode
			r.answer = append(r.answer, up.Answer...)
		}
		return r
	}
	return r
}

// finish makes the reply message of r: authoritative, with the SOA when it has no answer.
func (h *handler) finish(req *dns.Msg, r result) *dns.Msg {
	m := new(dns.Msg).SetRcode(req, r.rcode)
	m.Authoritative = true
	m.RecursionAvailable = len(h.fwd.list()) > 0
	m.Answer = r.answer
	m.Extra = r.extra
	if len(r.answer) == 0 {
		m.Ns = []dns.RR{soa(h.domain)}
	}
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(uint16(udpSize(req)), false)
	}
	return m
}

// rateLimitedLog writes at most one warning per interval, so that a dead upstream under a
// query storm does not flood the log tree.
type rateLimitedLog struct {
	log      logtree.LeveledLogger
	interval time.Duration
	mu       sync.Mutex
	last     time.Time
	dropped  int
}

func (l *rateLimitedLog) warn(format string, args ...any) {
	if l == nil || l.log == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.last) < l.interval {
		l.dropped++
		return
	}
	if l.dropped > 0 {
		l.log.Warningf("(%d similar warnings left out)", l.dropped)
	}
	l.last, l.dropped = time.Now(), 0
	l.log.Warningf(format, args...)
}
