package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/asn1"
	"fmt"
)

// GenerateKey creates a new node (or owner) key pair from the system's secure random source.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return pub, priv, nil
}

// CheckPublicKey returns an error naming the problem if pub is not a usable ed25519 public key.
// It only checks the length: every 32-byte string decodes to some key, and an unusable point
// shows up as failing signatures, not as corruption.
func CheckPublicKey(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("ed25519 public key: want %d bytes, got %d", ed25519.PublicKeySize, len(pub))
	}
	return nil
}

// checkPrivateKey is CheckPublicKey for private keys; it also catches a private key whose
// embedded public half does not match its seed, which would make every signature invalid.
func checkPrivateKey(priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("ed25519 private key: want %d bytes, got %d", ed25519.PrivateKeySize, len(priv))
	}
	if !ed25519.NewKeyFromSeed(priv.Seed()).Equal(priv) {
		return fmt.Errorf("ed25519 private key: public half does not match the seed")
	}
	return nil
}

// checkNoTrailingDER rejects data after the first ASN.1 element. crypto/x509's PKCS#8 parser
// ignores such bytes; accepting them would let two different files mean the same key.
func checkNoTrailingDER(der []byte) error {
	rest, err := asn1.Unmarshal(der, new(asn1.RawValue))
	if err != nil {
		return fmt.Errorf("not DER: %w", err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("%d bytes of trailing data after the DER structure", len(rest))
	}
	return nil
}
