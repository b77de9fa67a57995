package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	vnetns "github.com/vishvananda/netns"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"metropolis.dev/metropolis/launch/netns"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/eventually"
)

// Files a consensus member keeps in its state directory; the test borrows them to talk to the
// member's etcd as the member itself would. Their names belong to node/core and node/roleserve.
const (
	nodeKeyFile       = "node.key"
	etcdCertFile      = "consensus-certificate.pem"
	recordFile        = "sealed-record.json" // the hosted platform keeps the node's record in plain JSON
	nodeCertJSONField = "node_certificate"
)

// etcdVoters asks node i's etcd member for the cluster's members and returns the names of the
// voting ones, sorted, or an error naming a member that is still a learner. Etcd serves
// clients on loopback only, so the connection is made from inside the node's namespace, with
// the node's own etcd certificate (its server certificate names the node's address).
func (c *testCluster) etcdVoters(ctx context.Context, i int) ([]string, error) {
	dir := c.stateDir(i)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, etcdCertFile), filepath.Join(dir, nodeKeyFile))
	if err != nil {
		return nil, fmt.Errorf("node %d: etcd client credentials: %w", i, err)
	}
	network, err := netns.Attach(c.Network)
	if err != nil {
		return nil, err
	}
	node, err := network.Node(i)
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
				return verifyMember(cs, c.ca, c.Addresses[i-1])
			},
		},
		DialTimeout: attemptTimeout,
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dialInNamespace(ctx, node.Namespace, addr)
		})},
		Logger:  zap.NewNop(),
		Context: ctx,
	})
	if err != nil {
		return nil, fmt.Errorf("node %d: etcd client: %w", i, err)
	}
	defer cl.Close()
	res, err := cl.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("node %d: etcd member list: %w", i, err)
	}
	var voters []string
	for _, m := range res.Members {
		if m.IsLearner {
			return nil, fmt.Errorf("node %d: etcd member %s is still a learner", i, m.Name)
		}
		voters = append(voters, m.Name)
	}
	slices.Sort(voters)
	return voters, nil
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

// waitForVoters waits until node i's etcd member lists every node of the cluster as a voter,
// for clusters whose every node is a consensus member (up to three). A cluster tolerates the loss of a member only from then on: hosted.Launch returns as soon as
// the last member runs, which may be before etcd has promoted it from learner to voter.
func (c *testCluster) waitForVoters(t *testing.T, i int, timeout time.Duration) time.Duration {
	t.Helper()
	want := slices.Clone(c.ids)
	slices.Sort(want)
	return eventually.Pass(t, timeout, fmt.Sprintf("node %d's etcd member to list all nodes as voters", i), attempt(func(ctx context.Context) error {
		voters, err := c.etcdVoters(ctx, i)
		if err != nil {
			return err
		}
		if !slices.Equal(voters, want) {
			return fmt.Errorf("node %d: etcd voters %v, want %v", i, voters, want)
		}
		return nil
	}))
}
