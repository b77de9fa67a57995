package devicemapper

import (
	"encoding/hex"
	"fmt"
)

// SectorSize is the unit of target starts and lengths.
const SectorSize = 512

// Verity describes a dm-verity device whose hash tree follows its data on the same block
// device, as `veritysetup --no-superblock` writes it: format version 1, SHA-256.
type Verity struct {
	// BlockSize is the size of data and hash blocks in bytes, a multiple of SectorSize.
	BlockSize uint64
	// DataBlocks is the number of verified data blocks at the start of the device.
	DataBlocks uint64
	// HashStartBlock is where the hash tree starts, in BlockSize blocks.
	HashStartBlock uint64
	RootHash       []byte
	Salt           []byte
}

// VerityTable maps the verified data of dev as v describes it. Without further options a
// block that fails verification makes the read fail with EIO, and the target's status turns
// to "C".
func VerityTable(dev string, v Verity) (Target, error) {
	bs := v.BlockSize
	if bs == 0 || bs%SectorSize != 0 {
		return Target{}, fmt.Errorf("verity block size %d is not a positive multiple of %d", bs, SectorSize)
	}
	if v.DataBlocks == 0 {
		return Target{}, fmt.Errorf("verity over %s: no data blocks", dev)
	}
	return Target{
		Start:  0,
		Length: v.DataBlocks * (bs / SectorSize),
		Type:   "verity",
		Params: fmt.Sprintf("1 %s %s %d %d %d %d sha256 %x %x",
			dev, dev, bs, bs, v.DataBlocks, v.HashStartBlock, v.RootHash, v.Salt),
	}, nil
}

// CryptCipher is the cipher CryptTable sets up: AES in XTS mode with the sector number as the
// tweak. XTS uses two AES keys, so it takes a CryptKeySize-byte key for AES-256.
const CryptCipher = "aes-xts-plain64"

// CryptKeySize is the length of a CryptCipher key: two 256-bit AES keys.
const CryptKeySize = 64

// CryptTable encrypts all of dev (sectors long, in 512-byte sectors) with CryptCipher under
// key (CryptKeySize bytes), 512-byte encryption sectors, IV offset 0. Create the device with
// Options.SecretTable, since the table holds the key.
func CryptTable(dev string, sectors uint64, key []byte) (Target, error) {
	if len(key) != CryptKeySize {
		return Target{}, fmt.Errorf("%s key is %d bytes, want %d", CryptCipher, len(key), CryptKeySize)
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
