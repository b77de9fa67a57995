package efivars

import (
	"encoding/binary"

	"github.com/google/uuid"
)

// HardDrivePath is a media device path node for a GPT partition (type 4, subtype 1). The
// firmware finds the disk by looking for a partition with this GUID.
type HardDrivePath struct {
	// PartitionNumber is the 1-based index of the partition in the GPT.
	PartitionNumber uint32
	// PartitionStart and PartitionSize are in logical blocks of the disk.
	PartitionStart uint64
	PartitionSize  uint64
	// PartitionGUID is the GPT unique partition GUID.
	PartitionGUID uuid.UUID
}

const (
	hardDriveDataLen = 38 // 42-byte node minus its header
	partFormatGPT    = 0x02
	signatureGUID    = 0x02
)

func (*HardDrivePath) header() (uint8, uint8) { return typeMedia, subtypeHardDisk }

func (h *HardDrivePath) body() ([]byte, error) {
	b := make([]byte, 0, hardDriveDataLen)
	b = binary.LittleEndian.AppendUint32(b, h.PartitionNumber)
	b = binary.LittleEndian.AppendUint64(b, h.PartitionStart)
	b = binary.LittleEndian.AppendUint64(b, h.PartitionSize)
	sig := guidToDisk(h.PartitionGUID)
	b = append(b, sig[:]...)
	return append(b, partFormatGPT, signatureGUID), nil
}

// parseHardDrive accepts only GPT partitions with a GUID signature, the only form body
// writes; MBR entries stay UnknownNode so that they re-encode unchanged.
func parseHardDrive(d []byte) (*HardDrivePath, bool) {
	if len(d) != hardDriveDataLen || d[36] != partFormatGPT || d[37] != signatureGUID {
		return nil, false
	}
	return &HardDrivePath{
		PartitionNumber: binary.LittleEndian.Uint32(d[0:]),
		PartitionStart:  binary.LittleEndian.Uint64(d[4:]),
		PartitionSize:   binary.LittleEndian.Uint64(d[12:]),
		PartitionGUID:   guidFromDisk([16]byte(d[20:36])),
	}, true
}

// FilePathNode is a media device path node naming a file on the partition before it (type 4,
// subtype 4), such as `\EFI\metropolis\boot-a.efi`. Firmware expects backslashes.
type FilePathNode struct {
	Path string
}

func (*FilePathNode) header() (uint8, uint8) { return typeMedia, subtypeFilePath }

func (f *FilePathNode) body() ([]byte, error) { return encodeUTF16(f.Path) }

// parseFilePath accepts only a path that fills the node exactly, so that body gives back the
// same bytes; padding after the NUL or broken UTF-16 keeps the node an UnknownNode.
func parseFilePath(d []byte) (*FilePathNode, bool) {
	s, n, err := decodeUTF16(d)
	if err != nil || n != len(d) {
		return nil, false
	}
	return &FilePathNode{Path: s}, true
}

// UnknownNode is any device path node this package does not decode, kept as its raw data.
type UnknownNode struct {
	Type    uint8
	SubType uint8
	// Data is the node without its 4-byte header.
	Data []byte
}

func (u *UnknownNode) header() (uint8, uint8) { return u.Type, u.SubType }

func (u *UnknownNode) body() ([]byte, error) { return u.Data, nil }
