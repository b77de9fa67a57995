package core

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// TestAdoptJoinCertificate hands the node what a curator may answer a join with: only a
// usable successor of its certificate is presented (and so kept, see TestKeepNodeCertificate).
func TestAdoptJoinCertificate(t *testing.T) {
	ca, err := pki.NewCA("test cluster CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := pki.NewCA("another cluster CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *pki.CA, pub ed25519.PublicKey, validity time.Duration) []byte {
		cert, err := ca.IssueNodeCertificate(pub, nil, validity)
		if err != nil {
			t.Fatal(err)
		}
		return cert.Raw
	}
	for _, tc := range []struct {
		name    string
		der     []byte
		adopted bool
	}{
		{"a fresh certificate for this node", issue(ca, pub, 2*time.Hour), true},
		{"none (an older curator)", nil, false},
		{"for another node", issue(ca, otherPub, 2*time.Hour), false},
		{"from another cluster", issue(otherCA, pub, 2*time.Hour), false},
		{"expiring sooner", issue(ca, pub, 30*time.Minute), false},
		{"garbage", []byte("not a certificate"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldDER := issue(ca, pub, time.Hour)
			old, _ := x509.ParseCertificate(oldDER)
			oldTLS, err := pki.TLSCertificate(old, key)
			if err != nil {
				t.Fatal(err)
			}
			current := pki.NewRenewable(oldTLS)
			done := make(chan struct{})
			supervisor.TestHarness(t, func(ctx context.Context) error {
				adoptJoinCertificate(ctx, tc.der, ca.Certificate(), key, current)
				close(done)
				supervisor.Signal(ctx, supervisor.SignalHealthy)
				supervisor.Signal(ctx, supervisor.SignalDone)
				return nil
			})
			<-done
			presented := current.Current().Leaf.Raw
			if tc.adopted && string(presented) != string(tc.der) {
				t.Error("the node does not present the certificate from the join")
			}
			if !tc.adopted && string(presented) != string(oldDER) {
				t.Error("the node presents another certificate than its own")
			}
		})
	}
}

// TestKeepNodeCertificate: a certificate that replaces the presented one ends up in the
// membership record, for the next start.
func TestKeepNodeCertificate(t *testing.T) {
	ca, err := pki.NewCA("test cluster CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tlsFor := func(validity time.Duration) tls.Certificate {
		cert, err := ca.IssueNodeCertificate(pub, nil, validity)
		if err != nil {
			t.Fatal(err)
		}
		c, err := pki.TLSCertificate(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := tlsFor(time.Hour)
	current := pki.NewRenewable(old)
	rec, err := newSealedRecord()
	if err != nil {
		t.Fatal(err)
	}
	st := &memStorage{}
	store := &sealedStore{storage: st}
	m := &membership{CACertificate: ca.Certificate().Raw, NodeCertificate: old.Leaf.Raw, Curators: []string{"10.0.0.1:7835"}}
	if err := store.update(func(r *sealedRecord) { *r = *rec; m.record(r, "metropolis-0011223344556677") }); err != nil {
		t.Fatal(err)
	}
	supervisor.TestHarness(t, keepNodeCertificate(store, current))

	renewed := tlsFor(2 * time.Hour)
	current.Replace(renewed)
	eventually.Pass(t, 10*time.Second, "the sealed record to hold the renewed certificate", func(context.Context) error {
		data, _ := st.ReadSealed()
		stored, err := parseSealedRecord(data)
		if err != nil {
			return err
		}
		if !bytes.Equal(stored.NodeCertificate, renewed.Leaf.Raw) {
			return errors.New("it holds another")
		}
		return nil
	})
}
