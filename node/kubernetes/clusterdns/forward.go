package clusterdns

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// upstreamTimeout bounds one exchange with one upstream, so that a dead upstream costs the
// client at most this long before the next one is tried. Clients (glibc) wait 5 s by default.
const upstreamTimeout = 2 * time.Second

// errNoUpstream is returned by forward when there is no upstream to ask.
var errNoUpstream = errors.New("no upstream resolver configured")

// forwarder asks the upstream resolvers, in order, about names outside the cluster domain.
// The list may be replaced while queries run (Server.SetUpstreams).
type forwarder struct {
	upstreams atomic.Pointer[[]string]
	udp, tcp  *dns.Client
}

func newForwarder(upstreams []string) *forwarder {
	f := &forwarder{
		udp: &dns.Client{Net: "udp", Timeout: upstreamTimeout, UDPSize: dns.DefaultMsgSize},
		tcp: &dns.Client{Net: "tcp", Timeout: upstreamTimeout},
	}
	f.set(upstreams)
	return f
}

func (f *forwarder) set(upstreams []string) {
	list := append([]string(nil), upstreams...)
	f.upstreams.Store(&list)
}

func (f *forwarder) list() []string { return *f.upstreams.Load() }

// forward sends req to the upstreams in order and returns the first reply that is not
// SERVFAIL or REFUSED (or the last such reply, if all gave one). A truncated UDP reply is
// asked again over TCP of the same upstream, so the client gets the whole answer at once.
func (f *forwarder) forward(ctx context.Context, req *dns.Msg, overTCP bool) (*dns.Msg, error) {
	upstreams := f.list()
	if len(upstreams) == 0 {
		return nil, errNoUpstream
	}
	var lastReply *dns.Msg
	var errs []error
	for _, up := range upstreams {
		if ctx.Err() != nil {
			break
		}
		reply, err := f.exchange(ctx, req, up, overTCP)
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %s: %w", up, err))
			continue
		}
		if reply.Rcode == dns.RcodeServerFailure || reply.Rcode == dns.RcodeRefused {
			lastReply = reply
			errs = append(errs, fmt.Errorf("upstream %s: %s", up, dns.RcodeToString[reply.Rcode]))
			continue
		}
		return reply, nil
	}
	if lastReply != nil {
		return lastReply, nil
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return nil, errors.Join(errs...)
}

func (f *forwarder) exchange(ctx context.Context, req *dns.Msg, upstream string, overTCP bool) (*dns.Msg, error) {
	q := req.Copy()
	q.Id = dns.Id()
	client := f.udp
	if overTCP {
		client = f.tcp
	}
	reply, _, err := client.ExchangeContext(ctx, q, upstream)
	if err == nil && reply.Truncated && !overTCP {
		reply, _, err = f.tcp.ExchangeContext(ctx, q, upstream)
	}
	if err != nil {
		return nil, err
	}
	if reply.Id != q.Id {
		return nil, fmt.Errorf("reply ID %d does not match query ID %d", reply.Id, q.Id)
	}
	return reply, nil
}
