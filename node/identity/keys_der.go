package identity

import (
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
)

// MarshalPrivateKeyDER encodes priv as PKCS#8 DER.
func MarshalPrivateKeyDER(priv ed25519.PrivateKey) ([]byte, error) {
	if err := checkPrivateKey(priv); err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return der, nil
}

// ParsePrivateKeyDER decodes a PKCS#8 DER ed25519 private key.
func ParsePrivateKeyDER(der []byte) (ed25519.PrivateKey, error) {
	if err := checkNoTrailingDER(der); err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: not PKCS#8: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("parse private key: key algorithm is %s, want ed25519", keyAlgorithm(key))
	}
	if err := checkPrivateKey(priv); err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return priv, nil
}

// MarshalPublicKeyDER encodes pub as PKIX (SubjectPublicKeyInfo) DER.
func MarshalPublicKeyDER(pub ed25519.PublicKey) ([]byte, error) {
	if err := CheckPublicKey(pub); err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return der, nil
}

// ParsePublicKeyDER decodes a PKIX DER ed25519 public key.
func ParsePublicKeyDER(der []byte) (ed25519.PublicKey, error) {
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse public key: not PKIX: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("parse public key: key algorithm is %s, want ed25519", keyAlgorithm(key))
	}
	return pub, nil
}

// keyAlgorithm names a parsed key's algorithm for error messages.
func keyAlgorithm(key any) string {
	switch key.(type) {
	case ed25519.PrivateKey, ed25519.PublicKey:
		return "ed25519"
	default:
		// *rsa.PrivateKey, *ecdsa.PublicKey, *ecdh.PrivateKey...: the type names the algorithm
		// well enough for a human.
		return fmt.Sprintf("%T", key)
	}
}
