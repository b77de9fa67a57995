package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
)

// Fingerprint returns the SHA-256 of cert's DER encoding as colon-separated uppercase hex byte
// pairs, the same text as `openssl x509 -noout -fingerprint -sha256` prints after the "=". A
// person comparing what metroctl shows on first contact with what the node's console or an
// openssl command shows therefore compares identical strings.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}
