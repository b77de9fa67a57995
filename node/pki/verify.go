package pki

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"metropolis.dev/metropolis/node/identity"
)

// Purpose is what a certificate is being presented for.
type Purpose int

const (
	// PurposeServer: the certificate's holder is the TLS server.
	PurposeServer Purpose = iota + 1
	// PurposeClient: the certificate's holder is the TLS client.
	PurposeClient
)

func (p Purpose) String() string {
	switch p {
	case PurposeServer:
		return "server authentication"
	case PurposeClient:
		return "client authentication"
	default:
		return fmt.Sprintf("Purpose(%d)", int(p))
	}
}

func (p Purpose) extKeyUsage() (x509.ExtKeyUsage, error) {
	switch p {
	case PurposeServer:
		return x509.ExtKeyUsageServerAuth, nil
	case PurposeClient:
		return x509.ExtKeyUsageClientAuth, nil
	default:
		return 0, fmt.Errorf("unknown purpose %d", int(p))
	}
}

// Identity is who a verified certificate belongs to.
type Identity struct {
	Kind Kind
	// Name is the node ID, user name or service common name.
	Name string
}

func (id Identity) String() string {
	return fmt.Sprintf("%v %s", id.Kind, id.Name)
}

// Verify checks that cert was issued by ca, is valid at now, is a Metropolis leaf, and may be
// used for purpose, and returns its identity. Checks run in that order, so the error names the
// first thing wrong. Callers that accept only one kind should use VerifyNode, VerifyUser or
// VerifyService.
func Verify(cert, ca *x509.Certificate, purpose Purpose, now time.Time) (Identity, error) {
	return verify(cert, ca, purpose, now, 0)
}

// verify is Verify that, if wantKind is not zero, also insists on that kind. The kind is checked
// before the usage so that a user certificate presented as a node's is reported as the wrong
// kind rather than as lacking server authentication.
func verify(cert, ca *x509.Certificate, purpose Purpose, now time.Time, wantKind Kind) (Identity, error) {
	if cert == nil {
		return Identity{}, errors.New("no certificate presented")
	}
	if ca == nil {
		return Identity{}, errors.New("verifier has no cluster CA certificate")
	}
	if !ca.IsCA {
		return Identity{}, fmt.Errorf("verifier's cluster CA certificate %q is not a CA certificate", ca.Subject)
	}
	eku, err := purpose.extKeyUsage()
	if err != nil {
		return Identity{}, err
	}
	if !bytes.Equal(cert.RawIssuer, ca.RawSubject) {
		return Identity{}, fmt.Errorf("not signed by cluster CA: issuer %q is not the cluster CA %q", cert.Issuer, ca.Subject)
	}
	if err := cert.CheckSignatureFrom(ca); err != nil {
		return Identity{}, fmt.Errorf("not signed by cluster CA: %w", err)
	}
	if now.After(ca.NotAfter) {
		return Identity{}, fmt.Errorf("cluster CA certificate expired at %s", formatTime(ca.NotAfter))
	}
	if now.Before(cert.NotBefore) {
		return Identity{}, fmt.Errorf("certificate is not valid until %s (now is %s)", formatTime(cert.NotBefore), formatTime(now))
	}
	if now.After(cert.NotAfter) {
		return Identity{}, fmt.Errorf("certificate expired at %s", formatTime(cert.NotAfter))
	}
	kind, err := KindOf(cert)
	if err != nil {
		return Identity{}, err
	}
	if wantKind != 0 && kind != wantKind {
		return Identity{}, fmt.Errorf("certificate is a %v certificate, not a %v certificate", kind, wantKind)
	}
	id := Identity{Kind: kind, Name: cert.Subject.CommonName}
	if !slices.Contains(cert.ExtKeyUsage, eku) {
		return Identity{}, fmt.Errorf("certificate of %v is not valid for %v", id, purpose)
	}
	if kind == KindNode {
		if err := checkNodeBinding(cert); err != nil {
			return Identity{}, err
		}
	}
	// crypto/x509's full Verify would repeat the signature check (doubling the cost of every
	// authenticated call); the one thing it adds for certificates of this shape is refusing
	// critical extensions nobody here understands, so do that directly.
	for _, c := range []*x509.Certificate{cert, ca} {
		if len(c.UnhandledCriticalExtensions) > 0 {
			return Identity{}, fmt.Errorf("certificate of %v: %q has unhandled critical extension %v", id, c.Subject.CommonName, c.UnhandledCriticalExtensions[0])
		}
	}
	return id, nil
}

// checkNodeBinding makes sure a node certificate names the node of its own key.
func checkNodeBinding(cert *x509.Certificate) error {
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return fmt.Errorf("node certificate key algorithm is %s, want Ed25519", cert.PublicKeyAlgorithm)
	}
	id := identity.NodeID(pub)
	if cert.Subject.CommonName != id {
		return fmt.Errorf("node certificate names %q but its key belongs to %s", cert.Subject.CommonName, id)
	}
	if !slices.Contains(cert.DNSNames, id) {
		return fmt.Errorf("node certificate for %s lacks its node ID as DNS name", id)
	}
	return nil
}

// verifyKind is Verify restricted to one kind, returning just the name.
func verifyKind(want Kind, cert, ca *x509.Certificate, purpose Purpose, now time.Time) (string, error) {
	id, err := verify(cert, ca, purpose, now, want)
	if err != nil {
		return "", err
	}
	return id.Name, nil
}

// VerifyNode verifies cert as a node's for purpose and returns the node ID.
func VerifyNode(cert, ca *x509.Certificate, purpose Purpose, now time.Time) (nodeID string, err error) {
	return verifyKind(KindNode, cert, ca, purpose, now)
}

// VerifyUser verifies cert as a user's client certificate and returns the user name. Users are
// only ever clients, so there is no purpose argument.
func VerifyUser(cert, ca *x509.Certificate, now time.Time) (userName string, err error) {
	return verifyKind(KindUser, cert, ca, PurposeClient, now)
}

// VerifyService verifies cert as a service's for purpose and returns its common name.
func VerifyService(cert, ca *x509.Certificate, purpose Purpose, now time.Time) (commonName string, err error) {
	return verifyKind(KindService, cert, ca, purpose, now)
}

// VerifyMetrics verifies cert as a metrics scraper's client certificate and returns its name.
func VerifyMetrics(cert, ca *x509.Certificate, now time.Time) (name string, err error) {
	return verifyKind(KindMetrics, cert, ca, PurposeClient, now)
}
