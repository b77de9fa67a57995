package curator

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"net"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"metropolis.dev/metropolis/node/consensus"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// The etcd side of the test cluster: real members (package consensus) on loopback.

func freePort(t *testing.T, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// etcdMember runs one consensus member under its own quiet supervisor.
type etcdMember struct {
	svc  *consensus.Service
	stop func()
}

func startEtcdMember(t *testing.T, cfg consensus.Config) *etcdMember {
	t.Helper()
	svc, err := consensus.New(cfg)
	if err != nil {
		t.Fatalf("etcd member %s: %v", cfg.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := supervisor.New(ctx, func(ctx context.Context) error {
		if err := supervisor.Run(ctx, "etcd", svc.Run); err != nil {
			return err
		}
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		supervisor.Signal(ctx, supervisor.SignalDone)
		return nil
	}, supervisor.WithExistingLogtree(logtree.New()))
	m := &etcdMember{svc: svc, stop: func() {
		cancel()
		select {
		case <-s.Done():
		case <-time.After(time.Minute):
			t.Errorf("etcd member %s did not stop within a minute", cfg.Name)
		}
	}}
	t.Cleanup(m.stop)
	return m
}

// client waits until the member serves and returns its in-process client.
func (m *etcdMember) client(t *testing.T) *clientv3.Client {
	t.Helper()
	w := m.svc.Watch()
	defer w.Close()
	for {
		st, err := w.Get(callCtx(t))
		if err != nil {
			t.Fatalf("etcd member never became ready: %v", err)
		}
		if st != nil {
			return st.Client
		}
	}
}

// etcdConfig is node n's member configuration with the given certificate, joining initial
// (nil: bootstrap a new cluster).
func etcdConfig(t *testing.T, n *testNode, ca *x509.Certificate, cert *x509.Certificate, key ed25519.PrivateKey, peerPort int, initial map[string]string) consensus.Config {
	t.Helper()
	keyPEM, err := identity.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return consensus.Config{
		DataDir: t.TempDir(), Name: n.id, Host: n.ip,
		PeerPort: peerPort, ClientPort: freePort(t, n.ip),
		CACertificate: pki.EncodeCertificatePEM(ca),
		Certificate:   pki.EncodeCertificatePEM(cert), Key: keyPEM,
		InitialCluster: initial,
		UnsafeNoFsync:  true,
	}
}
