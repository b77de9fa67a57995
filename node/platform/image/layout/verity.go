package layout

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// VerityBlockSize is the data and hash block size of the system partition's verity tree.
const VerityBlockSize = 4096

// VerityCmdlineKey is the kernel command line key carrying the system partition's Verity
// parameters. The command line is inside the unified kernel image, which firmware measures, so
// the root hash is as trusted as the kernel that reads it.
const VerityCmdlineKey = "metropolis.verity"

// Verity describes the system partition: DataBlocks blocks of erofs, then the hash tree (its
// superblock-less tree starting at block HashStartBlock of the same partition), its root hash
// and salt (SHA-256, format version 1, as veritysetup --no-superblock writes it).
type Verity struct {
	DataBlocks     uint64
	HashStartBlock uint64
	RootHash       []byte
	Salt           []byte
}

// String is the command line value: DATABLOCKS,HASHSTART,ROOTHASH,SALT (hex).
func (v Verity) String() string {
	return fmt.Sprintf("%d,%d,%s,%s", v.DataBlocks, v.HashStartBlock, hex.EncodeToString(v.RootHash), hex.EncodeToString(v.Salt))
}

// ParseVerity parses a command line value written by Verity.String.
func ParseVerity(s string) (Verity, error) {
	fields := strings.Split(s, ",")
	if len(fields) != 4 {
		return Verity{}, fmt.Errorf("%s=%q: want DATABLOCKS,HASHSTART,ROOTHASH,SALT", VerityCmdlineKey, s)
	}
	var v Verity
	var err error
	if v.DataBlocks, err = strconv.ParseUint(fields[0], 10, 64); err != nil || v.DataBlocks == 0 {
		return Verity{}, fmt.Errorf("%s: data block count %q is not a positive number", VerityCmdlineKey, fields[0])
	}
	if v.HashStartBlock, err = strconv.ParseUint(fields[1], 10, 64); err != nil || v.HashStartBlock < v.DataBlocks {
		return Verity{}, fmt.Errorf("%s: hash start block %q is not a number at or after the data", VerityCmdlineKey, fields[1])
	}
	if v.RootHash, err = hex.DecodeString(fields[2]); err != nil || len(v.RootHash) != 32 {
		return Verity{}, fmt.Errorf("%s: root hash %q is not 64 hex digits (SHA-256)", VerityCmdlineKey, fields[2])
	}
	if v.Salt, err = hex.DecodeString(fields[3]); err != nil || len(v.Salt) == 0 || len(v.Salt) > 256 {
		return Verity{}, fmt.Errorf("%s: salt %q is not 1 to 256 bytes of hex", VerityCmdlineKey, fields[3])
	}
	return v, nil
}

// CmdlineValue returns the value of key in a kernel command line (as in /proc/cmdline), and
// whether it was there.
func CmdlineValue(cmdline, key string) (string, bool) {
	for _, f := range strings.Fields(cmdline) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}
