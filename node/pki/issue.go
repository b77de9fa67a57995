package pki

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// maxCommonNameLength is the X.509 upper bound for a common name (RFC 5280, ub-common-name).
const maxCommonNameLength = 64

// leafRequest is what the typed Issue* functions reduce to: everything that differs between
// kinds. The rest (serial, key IDs, validity window, key usage) is common and set by issue.
type leafRequest struct {
	kind         Kind
	commonName   string
	organization []string
	dnsNames     []string
	ips          []net.IP
	extKeyUsage  []x509.ExtKeyUsage
	publicKey    ed25519.PublicKey
}

// issue signs a leaf certificate valid from now (minus clockSkew) for validity.
func (ca *CA) issue(req leafRequest, validity time.Duration, now time.Time) (*x509.Certificate, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("validity must be positive, got %v", validity)
	}
	if len(req.publicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key: want %d bytes of ed25519, got %d", ed25519.PublicKeySize, len(req.publicKey))
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		return nil, fmt.Errorf("certificate would expire at %s, after the CA does at %s",
			formatTime(notAfter), formatTime(ca.cert.NotAfter))
	}
	for i, ip := range req.ips {
		if len(ip) != net.IPv4len && len(ip) != net.IPv6len {
			return nil, fmt.Errorf("IP address %d: malformed (%d bytes)", i, len(ip))
		}
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         req.commonName,
			Organization:       req.organization,
			OrganizationalUnit: []string{req.kind.ou()},
		},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           req.extKeyUsage,
		BasicConstraintsValid: true,
		DNSNames:              req.dnsNames,
		IPAddresses:           req.ips,
		SubjectKeyId:          subjectKeyID(req.publicKey),
		// AuthorityKeyId is filled in from the CA's SubjectKeyId by CreateCertificate.
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, req.publicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse issued certificate: %w", err)
	}
	return cert, nil
}

// randomSerial returns a random positive 128-bit serial number. Random serials need no
// coordination between curator instances and make issued certificates unpredictable.
func randomSerial() (*big.Int, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	serial := new(big.Int).SetBytes(b[:])
	if serial.Sign() == 0 {
		// 2^-128: only a broken random source gets here, and then issuing must stop.
		return nil, errors.New("generate serial number: random source returned zero")
	}
	return serial, nil
}

// subjectKeyID derives a key identifier from the public key: the leftmost 160 bits of its
// SHA-256, as RFC 7093 section 2 method 1 allows (avoiding SHA-1 altogether).
func subjectKeyID(pub ed25519.PublicKey) []byte {
	sum := sha256.Sum256(pub)
	return sum[:20]
}

// checkCommonName accepts printable ASCII up to the X.509 length limit. Service names such as
// "system:kube-scheduler" need ':' and other punctuation, so this is deliberately permissive.
func checkCommonName(name string) error {
	if name == "" {
		return errors.New("common name must not be empty")
	}
	if len(name) > maxCommonNameLength {
		return fmt.Errorf("common name %q: %d bytes, more than the X.509 limit of %d", name, len(name), maxCommonNameLength)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("common name %q: byte %#x at position %d is not printable ASCII", name, c, i)
		}
	}
	return nil
}

// formatTime renders times in errors the same way everywhere: UTC, to the second.
func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
