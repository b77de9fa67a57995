package blockdev

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"

	"github.com/google/uuid"
)

// GPT is a disk's GUID partition table as read from its primary (or backup) header.
type GPT struct {
	SectorSize   int
	DiskGUID     uuid.UUID
	FirstUsable  uint64
	LastUsable   uint64
	AlternateLBA uint64
	// EntriesLBA is where this header's entry array starts.
	EntriesLBA uint64
	// Partitions are the used entries, by their slot (partition number - 1).
	Partitions []Entry

	// header and entries are the raw bytes read, kept so writes preserve what we do not parse.
	header    []byte
	entries   []byte
	entrySize int
}

// Entry is one used partition entry.
type Entry struct {
	// Number is the 1-based slot; the kernel names the partition's device after it.
	Number     int
	Type, ID   uuid.UUID
	FirstLBA   uint64
	LastLBA    uint64 // inclusive
	Attributes uint64
	Name       string
}

// Sectors is the partition's length in sectors.
func (e Entry) Sectors() uint64 { return e.LastLBA - e.FirstLBA + 1 }

const (
	gptSignature = "EFI PART"
	// minHeaderSize is the size of the header fields defined by UEFI 2.x.
	minHeaderSize = 92
	minEntrySize  = 128
	// maxEntryBytes bounds the entry array we read: 128 entries of 128 bytes is the usual 16 KiB;
	// anything beyond 1 MiB is damage, not a table.
	maxEntryBytes = 1 << 20
	nameUnits     = 36 // UTF-16 code units in an entry name
)

// ReadGPT reads the GPT of a disk of size bytes with the given logical sector size. It reads
// the primary header and falls back to the backup at the last sector; if both are unusable the
// error says why for each.
func ReadGPT(r io.ReaderAt, sectorSize int, size int64) (*GPT, error) {
	if sectorSize < 512 || sectorSize&(sectorSize-1) != 0 {
		return nil, fmt.Errorf("sector size %d is not a power of two of at least 512", sectorSize)
	}
	if size < int64(sectorSize)*3 {
		return nil, fmt.Errorf("disk of %d bytes is too small for a GPT", size)
	}
	g, errPrimary := readGPTAt(r, sectorSize, size, 1)
	if errPrimary == nil {
		return g, nil
	}
	last := uint64(size/int64(sectorSize)) - 1
	g, errBackup := readGPTAt(r, sectorSize, size, last)
	if errBackup == nil {
		return g, nil
	}
	return nil, fmt.Errorf("no usable GPT: primary header: %v; backup header (sector %d): %v", errPrimary, last, errBackup)
}

func readGPTAt(r io.ReaderAt, sectorSize int, size int64, lba uint64) (*GPT, error) {
	hdr := make([]byte, sectorSize)
	if _, err := r.ReadAt(hdr, int64(lba)*int64(sectorSize)); err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	if string(hdr[:8]) != gptSignature {
		return nil, fmt.Errorf("no GPT signature")
	}
	le := binary.LittleEndian
	hdrSize := int(le.Uint32(hdr[12:]))
	if hdrSize < minHeaderSize || hdrSize > sectorSize {
		return nil, fmt.Errorf("header size %d is outside %d..%d", hdrSize, minHeaderSize, sectorSize)
	}
	hdr = hdr[:hdrSize]
	if want, got := le.Uint32(hdr[16:]), headerCRC(hdr); want != got {
		return nil, fmt.Errorf("header CRC is %#08x, header says %#08x", got, want)
	}
	if my := le.Uint64(hdr[24:]); my != lba {
		return nil, fmt.Errorf("header at sector %d says it is at sector %d", lba, my)
	}
	sectors := uint64(size / int64(sectorSize))
	g := &GPT{
		SectorSize:   sectorSize,
		DiskGUID:     guidFromDisk(hdr[56:72]),
		FirstUsable:  le.Uint64(hdr[40:]),
		LastUsable:   le.Uint64(hdr[48:]),
		AlternateLBA: le.Uint64(hdr[32:]),
		EntriesLBA:   le.Uint64(hdr[72:]),
		header:       hdr,
		entrySize:    int(le.Uint32(hdr[84:])),
	}
	count := uint64(le.Uint32(hdr[80:]))
	if g.entrySize < minEntrySize || g.entrySize%8 != 0 || count*uint64(g.entrySize) > maxEntryBytes {
		return nil, fmt.Errorf("entry array of %d entries of %d bytes is not plausible", count, g.entrySize)
	}
	if g.FirstUsable > g.LastUsable || g.LastUsable >= sectors {
		return nil, fmt.Errorf("usable sectors %d..%d do not fit the disk's %d sectors", g.FirstUsable, g.LastUsable, sectors)
	}
	g.entries = make([]byte, int(count)*g.entrySize)
	if g.EntriesLBA >= sectors {
		return nil, fmt.Errorf("entry array at sector %d is past the disk's end", g.EntriesLBA)
	}
	if _, err := r.ReadAt(g.entries, int64(g.EntriesLBA)*int64(sectorSize)); err != nil {
		return nil, fmt.Errorf("reading the entry array at sector %d: %w", g.EntriesLBA, err)
	}
	if want, got := le.Uint32(hdr[88:]), crc32.ChecksumIEEE(g.entries); want != got {
		return nil, fmt.Errorf("entry array CRC is %#08x, header says %#08x", got, want)
	}
	for i := 0; i < int(count); i++ {
		raw := g.entries[i*g.entrySize:]
		e := Entry{
			Number:     i + 1,
			Type:       guidFromDisk(raw[0:16]),
			ID:         guidFromDisk(raw[16:32]),
			FirstLBA:   le.Uint64(raw[32:]),
			LastLBA:    le.Uint64(raw[40:]),
			Attributes: le.Uint64(raw[48:]),
			Name:       decodeName(raw[56:128]),
		}
		if e.Type == uuid.Nil {
			continue
		}
		if e.FirstLBA > e.LastLBA || e.FirstLBA < g.FirstUsable || e.LastLBA > g.LastUsable {
			return nil, fmt.Errorf("partition %d (%q) at sectors %d..%d is outside the usable %d..%d", e.Number, e.Name, e.FirstLBA, e.LastLBA, g.FirstUsable, g.LastUsable)
		}
		g.Partitions = append(g.Partitions, e)
	}
	return g, nil
}

// headerCRC is the CRC32 of the header with its CRC field zeroed.
func headerCRC(hdr []byte) uint32 {
	c := bytes.Clone(hdr)
	clear(c[16:20])
	return crc32.ChecksumIEEE(c)
}

// guidFromDisk converts GPT's mixed-endian GUID encoding (first three fields little-endian).
func guidFromDisk(b []byte) uuid.UUID {
	var u uuid.UUID
	copy(u[:], b[:16])
	swapGUID(u[:])
	return u
}

func guidToDisk(u uuid.UUID) []byte {
	b := bytes.Clone(u[:])
	swapGUID(b)
	return b
}

func swapGUID(b []byte) {
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
}

func decodeName(b []byte) string {
	units := make([]uint16, 0, nameUnits)
	for i := 0; i+1 < len(b); i += 2 {
		u := binary.LittleEndian.Uint16(b[i:])
		if u == 0 {
			break
		}
		units = append(units, u)
	}
	return string(utf16.Decode(units))
}

func encodeName(s string) ([]byte, error) {
	units := utf16.Encode([]rune(s))
	if len(units) > nameUnits {
		return nil, fmt.Errorf("partition name %q is longer than %d UTF-16 units", s, nameUnits)
	}
	b := make([]byte, 2*nameUnits)
	for i, u := range units {
		binary.LittleEndian.PutUint16(b[2*i:], u)
	}
	return b, nil
}
