package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	vnetns "github.com/vishvananda/netns"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"metropolis.dev/metropolis/launch/hosted"
	"metropolis.dev/metropolis/launch/netns"
	"metropolis.dev/metropolis/node/ports"
)

// Files a consensus member keeps in its state directory; tests borrow them to talk to the
// member's etcd as the member itself would. Their names belong to node/core and node/roleserve.
const (
	NodeKeyFile  = "node.key"
	EtcdCertFile = "consensus-certificate.pem"
)

// HostedStateDir is node i's (1-based) state directory in a hosted cluster.
func HostedStateDir(c *hosted.Cluster, i int) string {
	return filepath.Join(filepath.Dir(c.LogPath(i)), "state")
}

// HostedEtcdClient connects to node i's etcd member as the member itself would. Etcd serves
// clients on loopback only, so the connection is made from inside the node's namespace, with
// the node's own etcd certificate (its server certificate names the node's address, checked
// against the cluster CA ca). dialTimeout bounds the connection; the caller closes the client.
func HostedEtcdClient(ctx context.Context, c *hosted.Cluster, ca *x509.Certificate, i int, dialTimeout time.Duration) (*clientv3.Client, error) {
	dir := HostedStateDir(c, i)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, EtcdCertFile), filepath.Join(dir, NodeKeyFile))
	if err != nil {
		return nil, fmt.Errorf("node %d: etcd client credentials: %w", i, err)
	}
	dial, err := HostedDialer(c, i)
	if err != nil {
		return nil, err
	}
	cl, err := clientv3.New(clientv3.Config{
		Endpoints: []string{"https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports.ConsensusClient)))},
		TLS: &tls.Config{
			Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
			// The etcd client names the server by the endpoint (loopback), which the member's
			// certificate does not: verify the chain and the node's address here instead.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				return verifyMember(cs, ca, c.Addresses[i-1])
			},
		},
		DialTimeout: dialTimeout,
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dial(ctx, "tcp", addr)
		})},
		Logger:  zap.NewNop(),
		Context: ctx,
	})
	if err != nil {
		return nil, fmt.Errorf("node %d: etcd client: %w", i, err)
	}
	return cl, nil
}

// verifyMember checks that an etcd server's certificate is from the cluster CA and for address.
func verifyMember(cs tls.ConnectionState, ca *x509.Certificate, address string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("etcd member presented no certificate")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("etcd member certificate: %w", err)
	}
	return leaf.VerifyHostname(address)
}

// dialInNamespace opens a TCP connection to addr from inside the named network namespace. A
// socket stays in the namespace it was created in, so only the dial runs there, on an OS
// thread of its own that is never handed back: its goroutine ends locked to it, and the
// runtime retires the thread rather than let other goroutines run in the node's namespace.
func dialInNamespace(ctx context.Context, namespace, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		h, err := vnetns.GetFromName(namespace)
		if err != nil {
			done <- result{err: fmt.Errorf("open network namespace %s: %w", namespace, err)}
			return
		}
		defer h.Close()
		if err := vnetns.Set(h); err != nil {
			done <- result{err: fmt.Errorf("enter network namespace %s: %w", namespace, err)}
			return
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		done <- result{conn, err}
	}()
	r := <-done
	return r.conn, r.err
}

// HostedDialer returns a dialer whose TCP connections start inside node i's network namespace,
// from the node's own address: a server that checks where its caller comes from (etcd's peer
// port checks the caller's certificate against its address) sees node i.
func HostedDialer(c *hosted.Cluster, i int) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	network, err := netns.Attach(c.Network)
	if err != nil {
		return nil, err
	}
	node, err := network.Node(i)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, _, addr string) (net.Conn, error) {
		return dialInNamespace(ctx, node.Namespace, addr)
	}, nil
}
