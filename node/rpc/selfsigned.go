package rpc

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// selfSignedValidity is how long a self-signed certificate is valid. It only has to last for
// the calls it is made for; nothing checks it but the peer's TLS stack.
const selfSignedValidity = time.Hour

// selfSignedBackdate puts NotBefore in the past so that a server with a clock a little ahead
// sees the certificate as valid.
const selfSignedBackdate = 5 * time.Minute

// SelfSignedCertificate makes a self-signed client certificate for priv, which a caller
// without a cluster certificate presents so that the TLS handshake proves it holds priv: a
// new node registering or committing (node key), a booting node joining (join key), the owner
// before escrow (owner key). Servers read only the key from it.
func SelfSignedCertificate(priv ed25519.PrivateKey) (tls.Certificate, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: private key has %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "metropolis self-signed key proof"},
		NotBefore:             now.Add(-selfSignedBackdate),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	pub := priv.Public()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: sign: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: parse: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}
