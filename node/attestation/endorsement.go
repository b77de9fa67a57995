package attestation

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"time"

	"github.com/google/go-attestation/attest"
)

// Policy is what a cluster trusts of machines and software.
type Policy struct {
	// EKRoots are the CA certificates whose endorsement-key certificates are trusted: the TPM
	// vendors' roots (and intermediates, which are trusted as anchors too).
	EKRoots []*x509.Certificate
	// PinnedEKs are the fingerprints (EKFingerprint) of endorsement keys trusted one by one,
	// pinned when their nodes were approved.
	PinnedEKs [][]byte
	// Releases are the trusted releases' measurements: the SHA-256 Authenticode hashes of
	// their unified kernel images.
	Releases [][]byte
}

// EKFingerprint is the SHA-256 of an endorsement key's public key (PKIX, DER): what an
// operator compares and pins.
func EKFingerprint(ekPublic []byte) []byte {
	h := sha256.Sum256(ekPublic)
	return h[:]
}

// CheckEndorsement decides whether the TPM with endorsement key ekPublic (PKIX, DER) and EK
// certificate ekCert (DER, nil if the TPM has none) is trusted by p at now.
func CheckEndorsement(p Policy, ekPublic, ekCert []byte, now time.Time) error {
	fp := EKFingerprint(ekPublic)
	for _, pinned := range p.PinnedEKs {
		if bytes.Equal(pinned, fp) {
			return nil
		}
	}
	if len(ekCert) == 0 {
		return refuse("EK not trusted: the TPM has no EK certificate and its EK %s is not pinned", shortHex(fp))
	}
	// Vendors' EK certificates carry extensions Go's parser refuses as unhandled critical
	// ones (the TPM's SAN); go-attestation's parser knows them.
	cert, err := attest.ParseEKCertificate(ekCert)
	if err != nil {
		return refuse("EK not trusted: its certificate does not parse: %.200v", err)
	}
	certPub, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil || !bytes.Equal(certPub, ekPublic) {
		return refuse("EK not trusted: its certificate is for another key than the TPM's EK %s", shortHex(fp))
	}
	if len(p.EKRoots) == 0 {
		return refuse("EK not trusted: the cluster trusts no EK CA and the EK %s is not pinned", shortHex(fp))
	}
	roots := x509.NewCertPool()
	for _, r := range p.EKRoots {
		roots.AddCert(r)
	}
	cert = withoutTPMSubjectAltName(cert)
	// EK certificates are for key encipherment and name no extended key usage that Go
	// checks for; the chain is what matters.
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return refuse("EK not trusted: its certificate (issued by %.100q) does not chain to a CA the cluster trusts: %.200v", cert.Issuer.String(), err)
	}
	return nil
}

// subjectAltNameOID is the subject alternative name extension. An EK certificate's names the
// TPM (manufacturer, model, version, as a directory name) and is critical, as the TCG's EK
// credential profile requires; Go's verifier handles only DNS, e-mail, IP and URI names and so
// refuses it as an unhandled critical extension. Chaining does not depend on it.
var subjectAltNameOID = asn1.ObjectIdentifier{2, 5, 29, 17}

func withoutTPMSubjectAltName(cert *x509.Certificate) *x509.Certificate {
	var unhandled []asn1.ObjectIdentifier
	for _, oid := range cert.UnhandledCriticalExtensions {
		if !oid.Equal(subjectAltNameOID) {
			unhandled = append(unhandled, oid)
		}
	}
	c := *cert
	c.UnhandledCriticalExtensions = unhandled
	return &c
}

func shortHex(b []byte) string {
	s := hex.EncodeToString(b)
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}
