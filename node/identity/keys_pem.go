package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/pem"
	"fmt"
)

// PEM block types of the key encodings, as written by OpenSSL and Go's standard library.
const (
	PEMTypePrivateKey = "PRIVATE KEY"
	PEMTypePublicKey  = "PUBLIC KEY"
)

// MarshalPrivateKeyPEM encodes priv as a PKCS#8 "PRIVATE KEY" PEM block.
func MarshalPrivateKeyPEM(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := MarshalPrivateKeyDER(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: PEMTypePrivateKey, Bytes: der}), nil
}

// ParsePrivateKeyPEM decodes a single PKCS#8 "PRIVATE KEY" PEM block holding an ed25519 key.
func ParsePrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	der, err := DecodeSinglePEM(data, PEMTypePrivateKey)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return ParsePrivateKeyDER(der)
}

// MarshalPublicKeyPEM encodes pub as a PKIX "PUBLIC KEY" PEM block.
func MarshalPublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	der, err := MarshalPublicKeyDER(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: PEMTypePublicKey, Bytes: der}), nil
}

// ParsePublicKeyPEM decodes a single PKIX "PUBLIC KEY" PEM block holding an ed25519 key.
func ParsePublicKeyPEM(data []byte) (ed25519.PublicKey, error) {
	der, err := DecodeSinglePEM(data, PEMTypePublicKey)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	return ParsePublicKeyDER(der)
}

// DecodeSinglePEM returns the bytes of the one PEM block in data, which must have type
// wantType. Anything but whitespace around the block is an error, as are PEM headers
// (encrypted keys are not supported and would otherwise fail later with a confusing message).
// Package pki uses it for certificates too, so that all Metropolis PEM files follow one rule.
func DecodeSinglePEM(data []byte, wantType string) ([]byte, error) {
	der, rest, err := nextPEMBlock(data, wantType)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("trailing data after the %q PEM block", wantType)
	}
	return der, nil
}

// DecodePEMBlocks is DecodeSinglePEM for files holding one or more blocks of wantType, such as
// certificate bundles. Errors name the bad block's position, counting from 1.
func DecodePEMBlocks(data []byte, wantType string) ([][]byte, error) {
	var blocks [][]byte
	for rest := data; len(blocks) == 0 || len(bytes.TrimSpace(rest)) > 0; {
		der, next, err := nextPEMBlock(rest, wantType)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", len(blocks)+1, err)
		}
		blocks = append(blocks, der)
		rest = next
	}
	return blocks, nil
}

// nextPEMBlock decodes the PEM block at the start of data (after whitespace).
func nextPEMBlock(data []byte, wantType string) (der, rest []byte, err error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, nil, fmt.Errorf("no PEM block found (want %q)", wantType)
	}
	// pem.Decode silently skips anything before a block, including malformed blocks; insist
	// that the block it found is the very first thing in data.
	consumed := bytes.TrimSpace(data[:len(data)-len(rest)])
	if !bytes.HasPrefix(consumed, []byte("-----BEGIN "+block.Type+"-----")) ||
		bytes.Count(consumed, []byte("-----BEGIN")) != 1 {
		return nil, nil, fmt.Errorf("data before the %q PEM block", block.Type)
	}
	if block.Type != wantType {
		return nil, nil, fmt.Errorf("PEM block type is %q, want %q", block.Type, wantType)
	}
	if len(block.Headers) > 0 {
		return nil, nil, fmt.Errorf("%q PEM block has headers (encrypted or non-standard PEM is not supported)", wantType)
	}
	return block.Bytes, rest, nil
}
