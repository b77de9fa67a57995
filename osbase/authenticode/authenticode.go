// Package authenticode computes the Authenticode digest of a PE/COFF image: the hash UEFI
// firmware extends into PCR 4 for every EFI application it starts (and checks against
// signatures under Secure Boot). Nodes use it to know in advance what firmware will measure
// when it boots a new unified kernel image; the image builder writes it into update
// manifests.
//
// The digest covers the headers without the CheckSum field and the certificate table's
// directory entry, then every section's raw data in file order, then whatever follows the
// last section up to the attached certificates (Microsoft's "Windows Authenticode Portable
// Executable Signature Format", as EDK2 implements it). The package reads bytes in memory
// only; it does not verify signatures.
package authenticode

import (
	"bytes"
	"crypto/sha256"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Offsets in the optional header (PE/COFF specification).
const (
	checksumOffset    = 64
	dataDirPE32       = 96
	dataDirPE32Plus   = 112
	certDirEntry      = 4 // IMAGE_DIRECTORY_ENTRY_SECURITY
	dataDirEntrySize  = 8
	peSignaturePtrOff = 0x3c
	coffHeaderSize    = 20
)

// SHA256 returns the Authenticode SHA-256 of the PE image in data.
func SHA256(data []byte) ([]byte, error) {
	if len(data) < peSignaturePtrOff+4 || data[0] != 'M' || data[1] != 'Z' {
		return nil, errors.New("not a PE image: no MZ header")
	}
	sig := int(binary.LittleEndian.Uint32(data[peSignaturePtrOff:]))
	if sig < 0 || sig > len(data)-4-coffHeaderSize || !bytes.Equal(data[sig:sig+4], []byte("PE\x00\x00")) {
		return nil, fmt.Errorf("not a PE image: no PE signature where the MZ header points (%#x)", sig)
	}
	f, err := pe.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("PE image: %w", err)
	}
	opt := sig + 4 + coffHeaderSize
	var dataDir, numDirs, headersSize int
	switch h := f.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		dataDir, numDirs, headersSize = opt+dataDirPE32, int(h.NumberOfRvaAndSizes), int(h.SizeOfHeaders)
	case *pe.OptionalHeader64:
		dataDir, numDirs, headersSize = opt+dataDirPE32Plus, int(h.NumberOfRvaAndSizes), int(h.SizeOfHeaders)
	default:
		return nil, errors.New("PE image has no optional header")
	}
	checksum := opt + checksumOffset
	certEntry := dataDir + certDirEntry*dataDirEntrySize
	if headersSize > len(data) || checksum+4 > headersSize {
		return nil, fmt.Errorf("PE image: headers of %d bytes do not fit the %d-byte file", headersSize, len(data))
	}

	h := sha256.New()
	h.Write(data[:checksum])
	var certSize int
	if numDirs > certDirEntry && certEntry+dataDirEntrySize <= headersSize {
		h.Write(data[checksum+4 : certEntry])
		h.Write(data[certEntry+dataDirEntrySize : headersSize])
		certSize = int(binary.LittleEndian.Uint32(data[certEntry+4:]))
	} else {
		h.Write(data[checksum+4 : headersSize])
	}

	sections := append([]*pe.Section{}, f.Sections...)
	sort.SliceStable(sections, func(i, j int) bool { return sections[i].Offset < sections[j].Offset })
	hashed := headersSize
	for _, s := range sections {
		if s.Size == 0 {
			continue
		}
		start, end := int(s.Offset), int(s.Offset)+int(s.Size)
		if start < 0 || end > len(data) || end < start {
			return nil, fmt.Errorf("PE image: section %q (bytes %d..%d) runs past the %d-byte file", s.Name, start, end, len(data))
		}
		h.Write(data[start:end])
		hashed += int(s.Size)
	}
	if end := len(data) - certSize; hashed < end {
		h.Write(data[hashed:end])
	}
	return h.Sum(nil), nil
}

// Section returns the raw data of the section called name (e.g. a unified kernel image's
// ".linux", its kernel), without the padding to the file alignment beyond its virtual size.
func Section(data []byte, name string) ([]byte, error) {
	f, err := pe.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("PE image: %w", err)
	}
	s := f.Section(name)
	if s == nil {
		return nil, fmt.Errorf("PE image has no %s section", name)
	}
	start, end := int(s.Offset), int(s.Offset)+int(min(s.Size, s.VirtualSize))
	if s.VirtualSize == 0 {
		end = int(s.Offset) + int(s.Size)
	}
	if start < 0 || end > len(data) || end < start {
		return nil, fmt.Errorf("PE image: section %s runs past the file", name)
	}
	return data[start:end], nil
}
