package image

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"metropolis.dev/metropolis/osbase/devicemapper"
)

// dataKeyInfo binds a derived key to its use, so the storage key can feed other derivations
// without two of them ever yielding the same key.
const dataKeyInfo = "metropolis data partition " + devicemapper.CryptCipher

// dataKey derives the data partition's dm-crypt key from the node's storage key (32 bytes,
// the node and cluster halves combined) with HKDF-SHA256 (RFC 5869): no salt, info
// "metropolis data partition aes-xts-plain64", devicemapper.CryptKeySize bytes of output.
// The derivation is part of the on-disk format: changing it makes existing data partitions
// unreadable.
func dataKey(storageKey []byte) ([]byte, error) {
	if len(storageKey) != 32 {
		return nil, fmt.Errorf("storage key is %d bytes, want 32", len(storageKey))
	}
	return hkdf.Key(sha256.New, storageKey, nil, dataKeyInfo, devicemapper.CryptKeySize)
}
