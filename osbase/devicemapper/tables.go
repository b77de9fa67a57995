package devicemapper

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"metropolis.dev/metropolis/node/platform/image/layout"
)

// SectorSize is the unit of target starts and lengths.
const SectorSize = 512

// VerityTable maps the verified data of the system partition dev, whose hash tree follows the
// data on the same partition, as layout.Verity describes it: format version 1, SHA-256,
// layout.VerityBlockSize data and hash blocks. Without further options a block that fails
// verification makes the read fail with EIO, and the target's status turns to "C".
func VerityTable(dev string, v layout.Verity) Target {
	const bs = layout.VerityBlockSize
	return Target{
		Start:  0,
		Length: v.DataBlocks * (bs / SectorSize),
		Type:   "verity",
		Params: fmt.Sprintf("1 %s %s %d %d %d %d sha256 %x %x",
			dev, dev, bs, bs, v.DataBlocks, v.HashStartBlock, v.RootHash, v.Salt),
	}
}

// CryptCipher is the data partition's cipher: AES in XTS mode with the sector number as the
// tweak. XTS uses two AES keys, so it takes a DataKeySize-byte key for AES-256.
const CryptCipher = "aes-xts-plain64"

// DataKeySize is the length of a CryptCipher key: two 256-bit AES keys.
const DataKeySize = 64

// dataKeyInfo binds a derived key to its use, so the storage key can feed other derivations
// without two of them ever yielding the same key.
const dataKeyInfo = "metropolis data partition " + CryptCipher

// DataKey derives the data partition's CryptCipher key from the node's storage key (32 bytes,
// the node and cluster halves combined) with HKDF-SHA256 (RFC 5869): no salt, info
// "metropolis data partition aes-xts-plain64", DataKeySize bytes of output. The derivation is
// part of the on-disk format: changing it makes existing data partitions unreadable.
func DataKey(storageKey []byte) ([]byte, error) {
	if len(storageKey) != 32 {
		return nil, fmt.Errorf("storage key is %d bytes, want 32", len(storageKey))
	}
	return hkdf.Key(sha256.New, storageKey, nil, dataKeyInfo, DataKeySize)
}

// CryptTable encrypts all of dev (sectors long, in 512-byte sectors) with CryptCipher under
// key (DataKeySize bytes, see DataKey), 512-byte encryption sectors, IV offset 0. Create the
// device with Options.SecretTable, since the table holds the key.
func CryptTable(dev string, sectors uint64, key []byte) (Target, error) {
	if len(key) != DataKeySize {
		return Target{}, fmt.Errorf("%s key is %d bytes, want %d", CryptCipher, len(key), DataKeySize)
	}
	if sectors == 0 {
		return Target{}, fmt.Errorf("crypt target over %s: device is empty", dev)
	}
	return Target{
		Start:  0,
		Length: sectors,
		Type:   "crypt",
		Params: fmt.Sprintf("%s %s 0 %s 0", CryptCipher, hex.EncodeToString(key), dev),
	}, nil
}
