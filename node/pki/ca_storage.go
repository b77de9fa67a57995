package pki

import (
	"fmt"

	"metropolis.dev/metropolis/node/identity"
)

// MarshalDER returns the CA certificate (DER) and private key (PKCS#8 DER) for storage. The key
// is the cluster's most valuable secret: store it only where the curator keeps cluster state.
func (ca *CA) MarshalDER() (certDER, keyDER []byte, err error) {
	keyDER, err = identity.MarshalPrivateKeyDER(ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal CA: %w", err)
	}
	return ca.cert.Raw, keyDER, nil
}

// MarshalPEM is MarshalDER as PEM: a "CERTIFICATE" and a "PRIVATE KEY" block.
func (ca *CA) MarshalPEM() (certPEM, keyPEM []byte, err error) {
	keyPEM, err = identity.MarshalPrivateKeyPEM(ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal CA: %w", err)
	}
	return EncodeCertificatePEM(ca.cert), keyPEM, nil
}

// ParseCADER loads a CA stored with MarshalDER. It checks that the certificate is a CA
// certificate and that the key belongs to it; it does not check expiry, so that an expired CA
// can still be loaded to be replaced.
func ParseCADER(certDER, keyDER []byte) (*CA, error) {
	cert, err := ParseCertificateDER(certDER)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	key, err := identity.ParsePrivateKeyDER(keyDER)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	ca, err := newCAFromParts(cert, key)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	return ca, nil
}

// ParseCAPEM loads a CA stored with MarshalPEM, with the same checks as ParseCADER.
func ParseCAPEM(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	key, err := identity.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	ca, err := newCAFromParts(cert, key)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	return ca, nil
}
