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

// Proxy passes TCP connections through to whichever apiserver accepts them.
type Proxy struct {
	// Endpoints returns the apiservers (host:port) to try; called for each connection, so it
	// may follow the cluster.
	Endpoints func(ctx context.Context) ([]string, error)
	// Log is told which controller connections go to whenever that changes.
	Log func(format string, args ...any)

	mu   sync.Mutex
	last string
}

// Serve accepts connections on l until ctx ends.
func (p *Proxy) Serve(ctx context.Context, l net.Listener) error {
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

func (p *Proxy) handle(ctx context.Context, local net.Conn) {
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
		d := net.Dialer{Timeout: dialTimeout}
		conn, err := d.DialContext(ctx, "tcp", e)
		if err != nil {
			errs = append(errs, err)
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
