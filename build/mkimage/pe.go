package mkimage

import (
	"encoding/binary"
	"fmt"
	"os"
)

// PE header offsets (Microsoft PE/COFF specification): the DOS header's pointer to the PE
// signature, and from that signature the COFF TimeDateStamp and the optional header's CheckSum.
const (
	peSignaturePointer = 0x3c
	peTimestampOffset  = 4 + 4       // after "PE\0\0", Machine and NumberOfSections
	peChecksumOffset   = 4 + 20 + 64 // after the signature and COFF header
)

// setPETimestamp sets the TimeDateStamp of the PE file at path and recomputes its CheckSum.
func setPETimestamp(path string, timestamp uint32) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) < peSignaturePointer+4 {
		return fmt.Errorf("%s is too short for a PE file", path)
	}
	pe := int(binary.LittleEndian.Uint32(data[peSignaturePointer:]))
	if pe < 0 || pe+peChecksumOffset+4 > len(data) || string(data[pe:pe+4]) != "PE\x00\x00" {
		return fmt.Errorf("%s has no PE header where its DOS header points (%#x)", path, pe)
	}
	binary.LittleEndian.PutUint32(data[pe+peTimestampOffset:], timestamp)
	binary.LittleEndian.PutUint32(data[pe+peChecksumOffset:], peChecksum(data, pe+peChecksumOffset))
	return os.WriteFile(path, data, 0o644)
}

// peChecksum is the PE image checksum: the 16-bit one's-complement-style sum of the file
// (the CheckSum field itself counted as zero) plus the file's length.
func peChecksum(data []byte, checksumAt int) uint32 {
	var sum uint64
	for i := 0; i < len(data); i += 2 {
		if i == checksumAt || i == checksumAt+2 {
			continue
		}
		var word uint64
		if i+1 < len(data) {
			word = uint64(binary.LittleEndian.Uint16(data[i:]))
		} else {
			word = uint64(data[i])
		}
		sum += word
		sum = (sum & 0xffff) + (sum >> 16)
	}
	sum = (sum & 0xffff) + (sum >> 16)
	return uint32(sum) + uint32(len(data))
}
