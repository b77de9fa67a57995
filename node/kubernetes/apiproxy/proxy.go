package apiproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// dialTimeout bounds one attempt to reach a controller: a node that is gone (no one answers
// ARP) would otherwise hold a connection for the kernel's full SYN timeout.
const dialTimeout = 2 * time.Second

// A connection to a controller that stops answering (killed, cut off) is dropped within
// seconds, not after the kernel's defaults (two hours of keepalive idle, fifteen minutes of
// retransmissions): probes after 5 s of silence, every 2 s, 3 unanswered end it; and unsent or
// unacknowledged data older than backendUserTimeout ends it too (TCP_USER_TIMEOUT, on Linux).
// The client's side is then closed as well, so it reconnects, and this proxy picks a
// controller that answers.
var backendKeepAlive = net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 2 * time.Second, Count: 3}

const backendUserTimeout = 10 * time.Second

// Proxy passes TCP connections through to whichever apiserver accepts them.
type Proxy struct {
	// Endpoints returns the apiservers (host:port) to try; called for each connection, so it
	// may follow the cluster.
	Endpoints func(ctx context.Context) ([]string, error)
	// Log is told which controller connections go to whenever that changes.
	Log func(format string, args ...any)
	// Idle, if not zero, ends Serve once no connection has been open for that long (a proxy
	// started on demand does not stay forever).
	Idle time.Duration

	mu   sync.Mutex
	last string
	// open counts the connections being relayed; idleSince is when it last fell to zero.
	open      int
	idleSince time.Time
}

// Serve accepts connections on l until ctx ends, or until it has been idle for p.Idle.
func (p *Proxy) Serve(ctx context.Context, l net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.mu.Lock()
	p.idleSince = time.Now()
	p.mu.Unlock()
	if p.Idle > 0 {
		go p.endWhenIdle(ctx, cancel)
	}
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("proxy: accept: %w", err)
		}
		wg.Go(func() { p.handle(ctx, conn) })
	}
}

// endWhenIdle cancels Serve once no connection has been open for p.Idle.
func (p *Proxy) endWhenIdle(ctx context.Context, cancel context.CancelFunc) {
	t := time.NewTicker(min(p.Idle/4+time.Millisecond, 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		idle := p.open == 0 && time.Since(p.idleSince) >= p.Idle
		p.mu.Unlock()
		if idle {
			p.Log("no connection for %v; stopping", p.Idle)
			cancel()
			return
		}
	}
}

func (p *Proxy) handle(ctx context.Context, local net.Conn) {
	p.mu.Lock()
	p.open++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.open--; p.open == 0 {
			p.idleSince = time.Now()
		}
		p.mu.Unlock()
	}()
	defer local.Close()
	remote, err := p.dial(ctx)
	if err != nil {
		p.Log("no controller reachable for a connection: %v", err)
		return
	}
	defer remote.Close()
	stop := context.AfterFunc(ctx, func() { local.Close(); remote.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(remote, local)
	go pipe(local, remote)
	<-done
	<-done
}

// dial connects to the controller that worked last, else to the others in order.
func (p *Proxy) dial(ctx context.Context) (net.Conn, error) {
	endpoints, err := p.Endpoints(ctx)
	if err != nil {
		return nil, err
	}
	if len(endpoints) == 0 {
		return nil, errors.New("the cluster has no Kubernetes controller")
	}
	p.mu.Lock()
	last := p.last
	p.mu.Unlock()
	order := make([]string, 0, len(endpoints))
	for _, e := range endpoints {
		if e == last {
			order = append([]string{e}, order...)
		} else {
			order = append(order, e)
		}
	}
	var errs []error
	for _, e := range order {
		d := net.Dialer{Timeout: dialTimeout, KeepAliveConfig: backendKeepAlive, Control: setUserTimeout(backendUserTimeout)}
		conn, err := d.DialContext(ctx, "tcp", e)
		if err != nil {
			errs = append(errs, err)
			if e == last {
				// It worked last time and not now: the next connection tries the others first.
				p.mu.Lock()
				if p.last == e {
					p.last = ""
				}
				p.mu.Unlock()
			}
			continue
		}
		p.mu.Lock()
		changed := p.last != e
		p.last = e
		p.mu.Unlock()
		if changed {
			p.Log("forwarding to %s", e)
		}
		return conn, nil
	}
	return nil, errors.Join(errs...)
}
