package kubernetes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"metropolis.dev/metropolis/node/consensus"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// halfOpenGrace is how long a forwarded connection stays open after one direction ended
// (one side closed or failed): long enough for a clean close to drain the other direction,
// short enough that an upstream that stopped answering (a hung member) does not hold the
// connection, and the apiserver's stream on it, forever.
const halfOpenGrace = 5 * time.Second

// maxSocketPath is the longest path a unix socket address holds (sun_path, with its NUL).
const maxSocketPath = 107

// etcdProxy forwards connections from a unix socket to the local etcd member's TLS client port.
type etcdProxy struct {
	socketPath string
	target     string // host:port of the member's client listener
	tlsConfig  *tls.Config
}

func newEtcdProxy(socketPath, target string, ca *x509.Certificate, clientCert tls.Certificate) (*etcdProxy, error) {
	if len(socketPath) > maxSocketPath {
		return nil, fmt.Errorf("etcd socket path %s is %d bytes, longer than a unix socket address holds (%d): use a shorter state directory", socketPath, len(socketPath), maxSocketPath)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{clientCert},
		// The apiserver speaks gRPC (HTTP/2 with prior knowledge) into the socket; etcd's TLS
		// listener serves HTTP/2 only to connections that negotiated it with ALPN.
		NextProtos: []string{"h2"},
		// The member's certificate names the node's address, not the loopback address dialled:
		// check the chain and that it is a consensus certificate instead of the name.
		InsecureSkipVerify: true,
		VerifyConnection: func(state tls.ConnectionState) error {
			if len(state.PeerCertificates) == 0 {
				return errors.New("etcd presented no certificate")
			}
			name, err := pki.VerifyService(state.PeerCertificates[0], ca, pki.PurposeServer, time.Now())
			if err != nil {
				return fmt.Errorf("etcd certificate: %w", err)
			}
			if name != consensus.PeerCommonName {
				return fmt.Errorf("etcd certificate is %q's, want %q", name, consensus.PeerCommonName)
			}
			return nil
		},
	}
	return &etcdProxy{socketPath: socketPath, target: target, tlsConfig: cfg}, nil
}

// Run serves the socket until ctx ends.
func (p *etcdProxy) Run(ctx context.Context) error {
	if err := os.Remove(p.socketPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale etcd socket: %w", err)
	}
	l, err := net.Listen("unix", p.socketPath)
	if err != nil {
		return fmt.Errorf("etcd socket: %w", err)
	}
	if err := os.Chmod(p.socketPath, 0o600); err != nil {
		l.Close()
		return fmt.Errorf("etcd socket: %w", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	logger := supervisor.Logger(ctx)
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("etcd socket: %w", err)
		}
		wg.Go(func() {
			if err := p.forward(ctx, conn); err != nil && ctx.Err() == nil {
				logger.Warningf("etcd connection: %v", err)
			}
		})
	}
}

func (p *etcdProxy) forward(ctx context.Context, local net.Conn) error {
	defer local.Close()
	dialer := tls.Dialer{Config: p.tlsConfig, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	remote, err := dialer.DialContext(ctx, "tcp", p.target)
	if err != nil {
		return fmt.Errorf("dial etcd at %s: %w", p.target, err)
	}
	defer remote.Close()
	stop := context.AfterFunc(ctx, func() {
		local.Close()
		remote.Close()
	})
	defer stop()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Half-close what can be half-closed so the other direction drains.
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(remote, local)
	go pipe(local, remote)
	<-done
	// One direction ended: the other gets halfOpenGrace to drain, then both are closed, which
	// ends it. A dead upstream thus ends the apiserver's connection (which it redials) instead
	// of leaving a stream that never answers.
	grace := time.NewTimer(halfOpenGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		local.Close()
		remote.Close()
		<-done
	}
	return nil
}
