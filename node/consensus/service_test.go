package consensus

import (
	"context"
	"net"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// member is one etcd member under its own supervisor, so a test can stop and restart it.
type member struct {
	svc  *Service
	stop func()
}

func startMember(t *testing.T, cfg Config) *member {
	t.Helper()
	svc, err := New(cfg)
	if err != nil {
		t.Fatalf("new member %s: %v", cfg.Name, err)
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
	m := &member{svc: svc, stop: func() {
		cancel()
		select {
		case <-s.Done():
		case <-time.After(time.Minute):
			t.Errorf("member %s did not stop within a minute", cfg.Name)
		}
	}}
	t.Cleanup(m.stop)
	return m
}

// client waits until the member is ready and returns its in-process client.
func (m *member) client(t *testing.T) *clientv3.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := m.svc.Watch()
	defer w.Close()
	for {
		st, err := w.Get(ctx)
		if err != nil {
			t.Fatalf("member %s never became ready: %v", m.svc.config.Name, err)
		}
		if st != nil {
			return st.Client
		}
	}
}

// testConfig makes a member configuration on loopback with a certificate from ca.
func testConfig(t *testing.T, ca *pki.CA, name string) Config {
	t.Helper()
	pub, priv, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServiceCertificate(pki.ServiceRequest{
		CommonName: PeerCommonName, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		Usage: pki.ServicePeer, PublicKey: pub,
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := identity.MarshalPrivateKeyPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		DataDir: t.TempDir(), Name: name, Host: "127.0.0.1",
		PeerPort: freePort(t), ClientPort: freePort(t),
		CACertificate: pki.EncodeCertificatePEM(ca.Certificate()),
		Certificate:   pki.EncodeCertificatePEM(cert), Key: keyPEM,
		UnsafeNoFsync: true,
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA("test cluster CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}
