package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Revoked is one certificate on a revocation list.
type Revoked struct {
	// Serial is the certificate's serial number.
	Serial *big.Int
	// RevokedAt is when it was revoked.
	RevokedAt time.Time
}

// RevocationList signs an X.509 CRL (DER) listing revoked, numbered number, valid from now
// until nextUpdate. Consumers that check CRLs (etcd's peer and client ports) refuse every listed
// certificate; the list never needs to name an expired certificate, which is refused anyway.
func (ca *CA) RevocationList(revoked []Revoked, number uint64, now, nextUpdate time.Time) ([]byte, error) {
	if !nextUpdate.After(now) {
		return nil, fmt.Errorf("revocation list: next update %v is not after %v", nextUpdate, now)
	}
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, r := range revoked {
		if r.Serial == nil || r.Serial.Sign() <= 0 {
			return nil, fmt.Errorf("revocation list: serial %v is not a positive number", r.Serial)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: r.Serial, RevocationTime: r.RevokedAt.UTC()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		RevokedCertificateEntries: entries,
		Number:                    new(big.Int).SetUint64(number),
		ThisUpdate:                now.Add(-clockSkew),
		NextUpdate:                nextUpdate,
	}, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	return der, nil
}

// VerifyRevocationList parses a DER CRL and checks that ca signed it. It does not judge its
// dates: a list is replaced by a newer one, never by nothing, so an old list still refuses
// what it names.
func VerifyRevocationList(der []byte, ca *x509.Certificate) (*x509.RevocationList, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	if !bytes.Equal(crl.RawIssuer, ca.RawSubject) {
		return nil, errors.New("revocation list: issued by another CA than the cluster's")
	}
	if err := crl.CheckSignatureFrom(ca); err != nil {
		return nil, fmt.Errorf("revocation list: not signed by the cluster CA: %w", err)
	}
	return crl, nil
}
