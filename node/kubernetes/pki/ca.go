package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Lifetimes. Component certificates are issued anew at every start of the controller, so their
// lifetime only has to cover one long run.
const (
	CAValidity        = 20 * 365 * 24 * time.Hour
	ComponentValidity = 365 * 24 * time.Hour
	// clockSkew backdates NotBefore, so that a machine whose clock is a little behind accepts a
	// certificate issued just now.
	clockSkew = 5 * time.Minute
)

// CA is the Kubernetes certificate authority: certificate and key.
type CA struct {
	Certificate *x509.Certificate
	Key         *ecdsa.PrivateKey
}

// NewCA creates a Kubernetes CA with a new key.
func NewCA() (*CA, error) { return newCA("Metropolis Kubernetes CA") }

// newCA creates a CA named commonName with a new key.
func newCA(commonName string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("kubernetes CA: generate key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("kubernetes CA: sign: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("kubernetes CA: parse: %w", err)
	}
	return &CA{Certificate: cert, Key: key}, nil
}

// CertificatePEM is the CA certificate as PEM, what clients and the apiserver trust.
func (ca *CA) CertificatePEM() []byte { return EncodeCertificatePEM(ca.Certificate) }

// Request describes a leaf certificate. Kubernetes reads the common name as the user name and
// the organizations as groups.
type Request struct {
	CommonName    string
	Organizations []string
	DNSNames      []string
	IPAddresses   []net.IP
	// Server makes a serving certificate; otherwise it is for a client.
	Server   bool
	Validity time.Duration
}

// Issue signs a certificate for pub. It refuses requests that name nobody, or a server without a
// name to check.
func (ca *CA) Issue(req Request, pub crypto.PublicKey) (*x509.Certificate, error) {
	if req.CommonName == "" {
		return nil, errors.New("issue kubernetes certificate: empty common name")
	}
	if req.Server && len(req.DNSNames)+len(req.IPAddresses) == 0 {
		return nil, fmt.Errorf("issue kubernetes certificate %q: a serving certificate needs a DNS name or IP address", req.CommonName)
	}
	if req.Validity <= 0 {
		return nil, fmt.Errorf("issue kubernetes certificate %q: validity %v is not positive", req.CommonName, req.Validity)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	usage := x509.ExtKeyUsageClientAuth
	if req.Server {
		usage = x509.ExtKeyUsageServerAuth
	}
	now := time.Now()
	notAfter := now.Add(req.Validity)
	if notAfter.After(ca.Certificate.NotAfter) {
		notAfter = ca.Certificate.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: req.CommonName, Organization: req.Organizations},
		DNSNames:              req.DNSNames,
		IPAddresses:           req.IPAddresses,
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		BasicConstraintsValid: true,
		AuthorityKeyId:        ca.Certificate.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Certificate, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue kubernetes certificate %q: %w", req.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// IssueWithKey generates a key and issues a certificate for it; both are returned as PEM, ready
// for a component's --tls-cert-file/--tls-private-key-file or a kubeconfig.
func (ca *CA) IssueWithKey(req Request) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("issue kubernetes certificate %q: generate key: %w", req.CommonName, err)
	}
	cert, err := ca.Issue(req, &key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = EncodePrivateKeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return EncodeCertificatePEM(cert), keyPEM, nil
}

// EncodeCertificatePEM encodes one certificate as a PEM CERTIFICATE block.
func EncodeCertificatePEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// EncodePrivateKeyPEM encodes key as a PKCS#8 PRIVATE KEY block.
func EncodePrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodePublicKeyPEM encodes pub as a PKIX PUBLIC KEY block (what --service-account-key-file
// takes).
func EncodePublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return serial, nil
}

func keyID(pub *ecdsa.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub) // a P-256 key always marshals
	sum := sha256.Sum256(der)
	return sum[:20]
}
