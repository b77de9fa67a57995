package pki

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestNewCAMakesALeafOnlySelfSignedCA(t *testing.T) {
	before := time.Now()
	ca := newTestCA(t)
	cert := ca.Certificate()

	checks := []struct {
		name string
		ok   bool
	}{
		{"is a CA", cert.BasicConstraintsValid && cert.IsCA},
		{"cannot sign intermediate CAs", cert.MaxPathLen == 0 && cert.MaxPathLenZero},
		{"is self-signed", cert.CheckSignatureFrom(cert) == nil},
		{"has a subject key ID equal to its authority key ID", len(cert.SubjectKeyId) == 20 && bytes.Equal(cert.SubjectKeyId, cert.AuthorityKeyId)},
		{"starts slightly in the past", cert.NotBefore.Before(before) && cert.NotBefore.After(before.Add(-time.Hour))},
		{"expires after the requested validity", !cert.NotAfter.Before(before.Add(10 * testValidity).Truncate(time.Second))},
		{"has the requested common name", cert.Subject.CommonName == "test cluster CA"},
		{"has a serial of more than 64 bits", cert.SerialNumber.BitLen() > 64},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("CA certificate %s: not so", c.name)
		}
	}
}

func TestNewCARefusesBadArguments(t *testing.T) {
	cases := []struct {
		name     string
		cn       string
		validity time.Duration
		wantErr  string
	}{
		{"zero validity", "ca", 0, "validity must be positive, got 0s"},
		{"negative validity", "ca", -time.Hour, "validity must be positive"},
		{"empty common name", "", time.Hour, "common name must not be empty"},
		{"control character in common name", "a\nb", time.Hour, "not printable ASCII"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewCA(c.cn, c.validity); err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("NewCA = %v, want error containing %q", err, c.wantErr)
			}
		})
	}
}

func TestCAStorageRoundTrip(t *testing.T) {
	ca := newTestCA(t)
	pub, _ := newKey(t)

	certDER, keyDER, err := ca.MarshalDER()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	fromDER, err := ParseCADER(certDER, keyDER)
	if err != nil {
		t.Fatalf("ParseCADER: %v", err)
	}
	fromPEM, err := ParseCAPEM(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("ParseCAPEM: %v", err)
	}

	// A reloaded CA is the same CA: what it issues verifies against the original certificate.
	for name, loaded := range map[string]*CA{"DER": fromDER, "PEM": fromPEM} {
		cert, err := loaded.IssueNodeCertificate(pub, nil, time.Hour)
		if err != nil {
			t.Fatalf("%s: issue: %v", name, err)
		}
		if _, err := VerifyNode(cert, ca.Certificate(), PurposeServer, time.Now()); err != nil {
			t.Errorf("%s: certificate from reloaded CA does not verify against the original: %v", name, err)
		}
	}
}

func TestParseCARefusesMismatchedParts(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	certDER, _, _ := ca.MarshalDER()
	_, otherKeyDER, _ := other.MarshalDER()
	leaf, leafKey := nodeCert(t, ca)

	cases := []struct {
		name    string
		load    func() error
		wantErr string
	}{
		{"key of another CA", func() error { _, err := ParseCADER(certDER, otherKeyDER); return err }, "load CA: private key does not match the CA certificate"},
		{"leaf certificate as CA", func() error { _, err := newCAFromParts(leaf, leafKey); return err }, "certificate is not a CA certificate"},
		{"garbage certificate", func() error { _, err := ParseCADER([]byte("x"), otherKeyDER); return err }, "load CA: parse certificate:"},
		{"PEM key where certificate belongs", func() error {
			_, keyPEM, _ := ca.MarshalPEM()
			_, err := ParseCAPEM(keyPEM, keyPEM)
			return err
		}, `load CA: parse certificate: PEM block type is "PRIVATE KEY", want "CERTIFICATE"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.load(); err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("load = %v, want error containing %q", err, c.wantErr)
			}
		})
	}
}
