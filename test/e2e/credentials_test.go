package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/rpc"
)

// nodeCredentials reads node i's key and node certificate from its state directory, as
// someone who got hold of the node's disk would.
func (c *testCluster) nodeCredentials(t *testing.T, i int) *tls.Certificate {
	t.Helper()
	dir := c.stateDir(i)
	keyPEM, err := os.ReadFile(filepath.Join(dir, nodeKeyFile))
	if err != nil {
		t.Fatalf("node %d key: %v", i, err)
	}
	key, err := identity.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatalf("node %d key: %v", i, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		t.Fatalf("node %d record: %v", i, err)
	}
	// Only the certificate is read; the record's other fields belong to node/core.
	var m map[string]json.RawMessage
	var der []byte
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("node %d record: %v", i, err)
	}
	if err := json.Unmarshal(m[nodeCertJSONField], &der); err != nil {
		t.Fatalf("node %d record: %s: %v", i, nodeCertJSONField, err)
	}
	cert, err := pki.ParseCertificateDER(der)
	if err != nil {
		t.Fatalf("node %d record: %s: %v", i, nodeCertJSONField, err)
	}
	if cert.Subject.CommonName != c.ids[i-1] {
		t.Fatalf("node %d's certificate is for %s, want %s", i, cert.Subject.CommonName, c.ids[i-1])
	}
	tlsCert, err := pki.TLSCertificate(cert, key)
	if err != nil {
		t.Fatalf("node %d credentials: %v", i, err)
	}
	return &tlsCert
}

// selfSignedCredentials is a self-signed certificate of a fresh key: what a new node or an
// owner before escrow presents, and anybody can make.
func selfSignedCredentials(t *testing.T) *tls.Certificate {
	t.Helper()
	_, key, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := rpc.SelfSignedCertificate(key)
	if err != nil {
		t.Fatal(err)
	}
	return &cert
}

// foreignOwnerCredentials is an owner certificate that another cluster's CA issued: right in
// form, wrong in origin.
func foreignOwnerCredentials(t *testing.T) *tls.Certificate {
	t.Helper()
	ca, err := pki.NewCA("another cluster", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pub, key, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueUserCertificate("owner", pub, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tlsCert, err := pki.TLSCertificate(cert, key)
	if err != nil {
		t.Fatal(fmt.Errorf("foreign owner credentials: %w", err))
	}
	return &tlsCert
}
