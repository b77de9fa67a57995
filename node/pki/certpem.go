package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"metropolis.dev/metropolis/node/identity"
)

// pemTypeCertificate is the PEM block type of an X.509 certificate.
const pemTypeCertificate = "CERTIFICATE"

// EncodeCertificatePEM returns cert as a "CERTIFICATE" PEM block.
func EncodeCertificatePEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemTypeCertificate, Bytes: cert.Raw})
}

// ParseCertificateDER parses one DER certificate, rejecting trailing data.
func ParseCertificateDER(der []byte) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return cert, nil
}

// ParseCertificatePEM parses data holding exactly one "CERTIFICATE" PEM block and nothing but
// whitespace around it.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	der, err := identity.DecodeSinglePEM(data, pemTypeCertificate)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return ParseCertificateDER(der)
}

// EncodeCertificateBundlePEM concatenates the PEM form of certs, e.g. the CA certificates a
// client should trust while the CA is being replaced.
func EncodeCertificateBundlePEM(certs []*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		buf.Write(EncodeCertificatePEM(c))
	}
	return buf.Bytes()
}

// ParseCertificateBundlePEM parses one or more "CERTIFICATE" PEM blocks. Errors name the
// position of the bad block, counting from 1.
func ParseCertificateBundlePEM(data []byte) ([]*x509.Certificate, error) {
	blocks, err := identity.DecodePEMBlocks(data, pemTypeCertificate)
	if err != nil {
		return nil, fmt.Errorf("parse certificate bundle: %w", err)
	}
	certs := make([]*x509.Certificate, len(blocks))
	for i, der := range blocks {
		if certs[i], err = ParseCertificateDER(der); err != nil {
			return nil, fmt.Errorf("parse certificate bundle: PEM block %d: %w", i+1, err)
		}
	}
	return certs, nil
}
