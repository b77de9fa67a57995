package config

import (
	"crypto/ed25519"
	"crypto/x509"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
)

// testKey returns a fresh owner key.
func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// testCA returns a fresh cluster CA.
func testCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA("test cluster", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// ownerCert issues an owner certificate for key from ca.
func ownerCert(t *testing.T, ca *pki.CA, key ed25519.PrivateKey) *x509.Certificate {
	t.Helper()
	cert, err := ca.IssueUserCertificate("owner", key.Public().(ed25519.PublicKey), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
