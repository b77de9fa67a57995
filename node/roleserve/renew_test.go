package roleserve

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	clocktesting "k8s.io/utils/clock/testing"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/consensus"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/event/memory"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// issuingCurator issues certificates from a real cluster CA, as the curator does, or what a
// test makes it issue instead (a curator gone wrong, or an attacker's).
type issuingCurator struct {
	cpb.CuratorClient
	ca       *pki.CA
	validity time.Duration
	// forge, if set, replaces the certificate the request would get.
	forge func(req *cpb.IssueCertificateRequest) (*x509.Certificate, error)

	mu    sync.Mutex
	calls int
}

func (c *issuingCurator) IssueCertificate(_ context.Context, req *cpb.IssueCertificateRequest, _ ...grpc.CallOption) (*cpb.IssueCertificateResponse, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	var cert *x509.Certificate
	var err error
	switch {
	case c.forge != nil:
		cert, err = c.forge(req)
	case req.Kind == cpb.CertificateKind_CERTIFICATE_KIND_NODE:
		cert, err = c.ca.IssueNodeCertificate(req.PublicKey, []net.IP{net.IPv4(10, 0, 0, 2)}, c.validity)
	default:
		cert, err = c.ca.IssueServiceCertificate(pki.ServiceRequest{
			CommonName: consensus.PeerCommonName, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 2)},
			Usage: pki.ServicePeer, PublicKey: req.PublicKey,
		}, c.validity)
	}
	if err != nil {
		return nil, err
	}
	return &cpb.IssueCertificateResponse{Certificate: cert.Raw, CaCertificate: c.ca.Certificate().Raw}, nil
}

func (c *issuingCurator) callCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// renewalFixture is a node's role service with certificates from a real CA, the node
// certificate valid for nodeValidity, and what it keeps of renewed ones.
type renewalFixture struct {
	s    *Service
	ca   *pki.CA
	cur  *issuingCurator
	kept [][]byte
	mu   sync.Mutex
}

func newRenewalFixture(t *testing.T, nodeValidity time.Duration) *renewalFixture {
	t.Helper()
	ca, err := pki.NewCA("test cluster CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.IssueNodeCertificate(pub, nil, nodeValidity)
	if err != nil {
		t.Fatal(err)
	}
	tlsCert, err := pki.TLSCertificate(leaf, key)
	if err != nil {
		t.Fatal(err)
	}
	f := &renewalFixture{ca: ca, cur: &issuingCurator{ca: ca, validity: time.Hour}}
	renewable := pki.NewRenewable(tlsCert)
	f.s = &Service{cfg: Config{
		NodeID: identity.NodeID(pub), NodeKey: key, NodeCertificate: renewable,
		CA: ca.Certificate(), StateDir: t.TempDir(),
	}}
	// What the node keeps for its next start: every certificate that replaces the first, as
	// node/core watches them.
	w := renewable.Watch()
	t.Cleanup(func() { w.Close() })
	if _, err := w.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			cert, err := w.Get(context.Background())
			if err != nil {
				return
			}
			f.mu.Lock()
			f.kept = append(f.kept, cert.Leaf.Raw)
			f.mu.Unlock()
		}
	}()
	return f
}

func (f *renewalFixture) keptCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.kept)
}

// TestNodeCertificateRenewedWhenDue runs the renewal worker on a fake clock: nothing happens
// before two thirds of the certificate's half hour; then it is renewed once (the curator
// issues an hour), kept, presented, and the worker sleeps again until the new one is due.
func TestNodeCertificateRenewedWhenDue(t *testing.T) {
	f := newRenewalFixture(t, 30*time.Minute)
	clk := clocktesting.NewFakeClock(time.Now())
	f.s.cfg.Clock = clk
	old := f.s.cfg.NodeCertificate.Current().Leaf
	supervisor.TestHarness(t, func(ctx context.Context) error { return f.s.renewNodeCertificates(ctx, f.cur) })

	waitForSleep(t, clk)
	clk.SetTime(pki.RenewAt(old.NotBefore, old.NotAfter).Add(-time.Second))
	waitForSleep(t, clk)
	if n := f.cur.callCount(); n != 0 {
		t.Fatalf("curator asked %d times before the certificate was due", n)
	}
	clk.Step(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for f.keptCount() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	waitForSleep(t, clk) // asleep again: everything of this renewal has happened
	if n := f.keptCount(); n != 1 {
		t.Fatalf("renewed node certificate kept %d times, want once", n)
	}
	current := f.s.cfg.NodeCertificate.Current().Leaf
	if current.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Fatal("the node still presents its old certificate")
	}
	if string(f.kept[0]) != string(current.Raw) {
		t.Error("the certificate kept for the next start is not the one presented")
	}
	if !current.NotAfter.After(old.NotAfter) {
		t.Errorf("renewed certificate expires %s, not after the old one (%s)", current.NotAfter, old.NotAfter)
	}
	if n := f.cur.callCount(); n != 1 {
		t.Errorf("curator asked %d times, want once", n)
	}
}

// TestRenewalRefusesUnusableCertificates has the curator answer with certificates the node
// must not take: each is refused with an error naming why, and the node keeps presenting its
// current certificate and keeps nothing.
func TestRenewalRefusesUnusableCertificates(t *testing.T) {
	otherCA, err := pki.NewCA("another cluster CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		forge func(f *renewalFixture, req *cpb.IssueCertificateRequest) (*x509.Certificate, error)
		want  string
	}{
		{"from another cluster's CA", func(f *renewalFixture, req *cpb.IssueCertificateRequest) (*x509.Certificate, error) {
			return otherCA.IssueNodeCertificate(req.PublicKey, nil, time.Hour)
		}, "renewed node certificate unusable"},
		{"for another node's key", func(f *renewalFixture, req *cpb.IssueCertificateRequest) (*x509.Certificate, error) {
			return f.ca.IssueNodeCertificate(otherPub, nil, time.Hour)
		}, "for another node"},
		{"a user certificate", func(f *renewalFixture, req *cpb.IssueCertificateRequest) (*x509.Certificate, error) {
			return f.ca.IssueUserCertificate("owner", req.PublicKey, time.Hour)
		}, "renewed node certificate unusable"},
		{"expiring before the current one", func(f *renewalFixture, req *cpb.IssueCertificateRequest) (*x509.Certificate, error) {
			return f.ca.IssueNodeCertificate(req.PublicKey, nil, time.Minute)
		}, "no later than the current one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRenewalFixture(t, 2*time.Hour)
			f.cur.forge = func(req *cpb.IssueCertificateRequest) (*x509.Certificate, error) { return tc.forge(f, req) }
			before := f.s.cfg.NodeCertificate.Current()
			err := f.s.renewNodeCertificate(context.Background(), f.cur)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("renewal: %v, want an error containing %q", err, tc.want)
			}
			if f.s.cfg.NodeCertificate.Current() != before {
				t.Error("the node presents another certificate after a refused renewal")
			}
			if f.keptCount() != 0 {
				t.Error("a refused certificate was kept for the next start")
			}
		})
	}
}

// TestConsensusCertificateRenewal replaces the stored etcd certificate with a renewed one,
// and refuses a node certificate in its place.
func TestConsensusCertificateRenewal(t *testing.T) {
	f := newRenewalFixture(t, time.Hour)
	pub := f.s.cfg.NodeKey.Public().(ed25519.PublicKey)
	first, err := f.ca.IssueServiceCertificate(pki.ServiceRequest{
		CommonName: consensus.PeerCommonName, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 2)}, Usage: pki.ServicePeer, PublicKey: pub,
	}, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteConsensusCertificate(f.s.cfg.StateDir, first.Raw); err != nil {
		t.Fatal(err)
	}

	f.cur.forge = func(req *cpb.IssueCertificateRequest) (*x509.Certificate, error) {
		return f.ca.IssueNodeCertificate(req.PublicKey, nil, time.Hour)
	}
	if _, err := f.s.renewConsensusCertificate(context.Background(), f.cur); err == nil || !strings.Contains(err.Error(), "unusable etcd certificate") {
		t.Errorf("a node certificate as etcd certificate: %v, want it refused", err)
	}
	f.cur.forge = nil
	renewed, err := f.s.renewConsensusCertificate(context.Background(), f.cur)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile(filepath.Join(f.s.cfg.StateDir, consensusCertFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := pki.ParseCertificatePEM(stored)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(renewed) || got.Equal(first) {
		t.Error("the stored etcd certificate is not the renewed one")
	}
}

// TestConsensusMemberRestartsWithRenewedCertificate: while the node stays a consensus member,
// its etcd certificate is renewed when due (by the fake clock) and the wait ends with an error
// that restarts the member; a removed role ends it without one.
func TestConsensusMemberRestartsWithRenewedCertificate(t *testing.T) {
	f := newRenewalFixture(t, time.Hour)
	clk := clocktesting.NewFakeClock(time.Now())
	f.s.cfg.Clock = clk
	pub := f.s.cfg.NodeKey.Public().(ed25519.PublicKey)
	first, err := f.ca.IssueServiceCertificate(pki.ServiceRequest{
		CommonName: consensus.PeerCommonName, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 2)}, Usage: pki.ServicePeer, PublicKey: pub,
	}, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteConsensusCertificate(f.s.cfg.StateDir, first.Raw); err != nil {
		t.Fatal(err)
	}
	roles := &memory.Value[*cpb.NodeRoles]{}
	roles.Set(&cpb.NodeRoles{ConsensusMember: &cpb.ConsensusMember{}})
	result := make(chan error, 1)
	// Each run is one start of the member: the runnable reports how its wait ended and then
	// stays done, as the consensus worker would be restarted by the supervisor.
	wait := func(ctx context.Context) error {
		w := roles.Watch()
		defer w.Close()
		result <- f.s.waitForRoleRemoval(ctx, w, f.cur)
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		supervisor.Signal(ctx, supervisor.SignalDone)
		return nil
	}
	supervisor.TestHarness(t, wait)

	waitForSleep(t, clk)
	clk.SetTime(pki.RenewAt(first.NotBefore, first.NotAfter).Add(-time.Second))
	waitForSleep(t, clk)
	if n := f.cur.callCount(); n != 0 {
		t.Fatalf("curator asked %d times before the certificate was due", n)
	}
	clk.Step(time.Second)
	select {
	case err := <-result:
		if err == nil || !strings.Contains(err.Error(), "restarting this node's member") {
			t.Fatalf("wait ended with %v, want the restart", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end after the etcd certificate was due")
	}
	got, err := f.s.consensusCertificate()
	if err != nil || got.Equal(first) {
		t.Fatalf("stored etcd certificate not renewed (%v)", err)
	}

	// The member, restarted, waits again; the role goes away.
	supervisor.TestHarness(t, wait)
	waitForSleep(t, clk)
	roles.Set(&cpb.NodeRoles{})
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("wait ended with %v after the role was removed, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end when the role was removed")
	}
}

// waitForSleep waits until a loop sleeps on the fake clock, bounded.
func waitForSleep(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("nothing waits on the fake clock after 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
