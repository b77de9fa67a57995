package pki

import (
	"crypto/x509"
	"strings"
	"testing"
)

func TestCertificatePEMRoundTrip(t *testing.T) {
	ca := newTestCA(t)
	node, _ := nodeCert(t, ca)

	got, err := ParseCertificatePEM(EncodeCertificatePEM(node))
	if err != nil || !got.Equal(node) {
		t.Fatalf("single certificate round trip: %v", err)
	}
	bundle, err := ParseCertificateBundlePEM(EncodeCertificateBundlePEM([]*x509.Certificate{ca.Certificate(), node}))
	if err != nil || len(bundle) != 2 || !bundle[0].Equal(ca.Certificate()) || !bundle[1].Equal(node) {
		t.Fatalf("bundle round trip: %d certificates, %v", len(bundle), err)
	}
}

func TestParseCertificatePEMRejectsBadInput(t *testing.T) {
	ca := newTestCA(t)
	certPEM, keyPEM, err := ca.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	two := append(append([]byte{}, certPEM...), certPEM...)
	junkCert := []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")

	cases := []struct {
		name    string
		parse   func([]byte) error
		input   []byte
		wantErr string
	}{
		{"single: empty input", parseOne, nil, `parse certificate: no PEM block found (want "CERTIFICATE")`},
		{"single: a key is the wrong type", parseOne, keyPEM, `PEM block type is "PRIVATE KEY", want "CERTIFICATE"`},
		{"single: two certificates are trailing data", parseOne, two, `trailing data after the "CERTIFICATE" PEM block`},
		{"single: DER that is not a certificate", parseOne, junkCert, "parse certificate: x509: malformed certificate"},
		{"bundle: empty input", parseBundle, []byte("  \n"), "parse certificate bundle: PEM block 1: no PEM block found"},
		{"bundle: a key after a certificate", parseBundle, append(append([]byte{}, certPEM...), keyPEM...), `parse certificate bundle: PEM block 2: PEM block type is "PRIVATE KEY"`},
		{"bundle: text between certificates", parseBundle, append(append(append([]byte{}, certPEM...), "junk\n"...), certPEM...), "PEM block 2: data before"},
		{"bundle: text after the last certificate", parseBundle, append(append([]byte{}, certPEM...), "junk\n"...), "PEM block 2: no PEM block found"},
		{"bundle: a broken certificate", parseBundle, append(append([]byte{}, certPEM...), junkCert...), "parse certificate bundle: PEM block 2: parse certificate: x509: malformed certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.parse(c.input); err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("parse = %v, want error containing %q", err, c.wantErr)
			}
		})
	}
}

func parseOne(b []byte) error    { _, err := ParseCertificatePEM(b); return err }
func parseBundle(b []byte) error { _, err := ParseCertificateBundlePEM(b); return err }

func TestFingerprintIsOpenSSLStyleSHA256(t *testing.T) {
	// SHA-256("abc") is the FIPS 180-2 test vector, so the expected text is known independently.
	const want = "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
	if got := Fingerprint(&x509.Certificate{Raw: []byte("abc")}); got != want {
		t.Fatalf("Fingerprint = %s, want %s", got, want)
	}
}

// FuzzParseCertificatePEM checks that no input makes the certificate parser panic, and that any
// certificate it accepts encodes back to PEM that parses to the same certificate.
func FuzzParseCertificatePEM(f *testing.F) {
	ca := newTestCA(f)
	node, _ := nodeCert(f, ca)
	certPEM, keyPEM, err := ca.MarshalPEM()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(certPEM)
	f.Add(EncodeCertificatePEM(node))
	f.Add(keyPEM)
	f.Add(append(append([]byte{}, certPEM...), certPEM...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		cert, err := ParseCertificatePEM(data)
		if err != nil {
			return
		}
		again := EncodeCertificatePEM(cert)
		back, err := ParseCertificatePEM(again)
		if err != nil || !back.Equal(cert) {
			t.Fatalf("re-encoded certificate does not parse back equal: %v", err)
		}
	})
}
