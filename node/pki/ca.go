package pki

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"
)

// clockSkew is how far NotBefore is put in the past, so that a node whose clock is a little
// behind the issuer's accepts a certificate issued just now.
const clockSkew = 5 * time.Minute

// CA is a cluster's certificate authority: its self-signed certificate and private key.
// It is safe for concurrent use.
type CA struct {
	cert *x509.Certificate
	key  ed25519.PrivateKey
}

// NewCA creates a CA with a new ed25519 key and a self-signed certificate valid for validity.
func NewCA(commonName string, validity time.Duration) (*CA, error) {
	if err := checkCommonName(commonName); err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	if validity <= 0 {
		return nil, fmt.Errorf("new CA: validity must be positive, got %v", validity)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA: generate key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	now := time.Now()
	keyID := subjectKeyID(pub)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         commonName,
			OrganizationalUnit: []string{ouCA},
		},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Leaves only: the CA must never be able to delegate to another CA.
		MaxPathLen:     0,
		MaxPathLenZero: true,
		SubjectKeyId:   keyID,
		AuthorityKeyId: keyID,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, fmt.Errorf("new CA: sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA: parse own certificate: %w", err)
	}
	return &CA{cert: cert, key: key}, nil
}

// Certificate returns the CA certificate, which is what verifiers need. The caller must not
// modify it.
func (ca *CA) Certificate() *x509.Certificate {
	return ca.cert
}

// newCAFromParts checks that cert and key form a usable CA.
func newCAFromParts(cert *x509.Certificate, key ed25519.PrivateKey) (*CA, error) {
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, errors.New("certificate is not a CA certificate")
	}
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("CA key algorithm is %s, want Ed25519", cert.PublicKeyAlgorithm)
	}
	if !pub.Equal(key.Public()) {
		return nil, errors.New("private key does not match the CA certificate")
	}
	return &CA{cert: cert, key: key}, nil
}
