package pki

import (
	"crypto/ed25519"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/identity"
)

// testValidity is long enough that no test can outlive it, short enough to be obviously a test.
const testValidity = 24 * time.Hour

func newTestCA(t testing.TB) *CA {
	t.Helper()
	ca, err := NewCA("test cluster CA", 10*testValidity)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// nodeCert issues a node certificate and returns it with its key.
func nodeCert(t testing.TB, ca *CA) (*x509.Certificate, ed25519.PrivateKey) {
	t.Helper()
	pub, priv := newKey(t)
	cert, err := ca.IssueNodeCertificate(pub, []net.IP{net.ParseIP("127.0.0.1")}, testValidity)
	if err != nil {
		t.Fatal(err)
	}
	return cert, priv
}

func userCert(t testing.TB, ca *CA) (*x509.Certificate, ed25519.PrivateKey) {
	t.Helper()
	pub, priv := newKey(t)
	cert, err := ca.IssueUserCertificate("owner", pub, testValidity)
	if err != nil {
		t.Fatal(err)
	}
	return cert, priv
}

func serviceCert(t testing.TB, ca *CA, usage ServiceUsage) (*x509.Certificate, ed25519.PrivateKey) {
	t.Helper()
	pub, priv := newKey(t)
	cert, err := ca.IssueServiceCertificate(ServiceRequest{
		CommonName: "etcd", DNSNames: []string{"etcd.local"}, Usage: usage, PublicKey: pub,
	}, testValidity)
	if err != nil {
		t.Fatal(err)
	}
	return cert, priv
}
