package blockdev

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/google/uuid"
)

// Append adds a partition of type typ named name to g, covering all free space after the last
// partition on a disk of size bytes, start and length aligned to align bytes. The disk may be
// larger than when the table was written (an image written to a bigger disk): the table then
// grows to the disk's end, with the backup header moved to the last sector. It fails if less
// than minSize bytes are free, or no entry slot is free. It changes g only; Write stores it.
func (g *GPT) Append(size int64, typ uuid.UUID, name string, align, minSize uint64) (Entry, error) {
	if typ == uuid.Nil {
		return Entry{}, fmt.Errorf("partition type is the nil GUID, which marks unused entries")
	}
	rawName, err := encodeName(name)
	if err != nil {
		return Entry{}, err
	}
	ss := uint64(g.SectorSize)
	if align < ss || align%ss != 0 {
		return Entry{}, fmt.Errorf("alignment %d is not a multiple of the %d byte sector", align, ss)
	}
	lastLBA := uint64(size)/ss - 1
	entrySectors := (uint64(len(g.entries)) + ss - 1) / ss
	if lastLBA < entrySectors+g.FirstUsable {
		return Entry{}, fmt.Errorf("disk of %d bytes is too small", size)
	}
	lastUsable := lastLBA - entrySectors - 1
	slot := -1
	used := map[int]bool{}
	end := g.FirstUsable // first sector after every partition
	for _, p := range g.Partitions {
		used[p.Number] = true
		end = max(end, p.LastLBA+1)
		if p.LastLBA > lastUsable {
			return Entry{}, fmt.Errorf("partition %d (%q) ends at sector %d, past the disk's last usable sector %d", p.Number, p.Name, p.LastLBA, lastUsable)
		}
	}
	for i := 0; i < len(g.entries)/g.entrySize; i++ {
		if !used[i+1] {
			slot = i
			break
		}
	}
	if slot < 0 {
		return Entry{}, fmt.Errorf("all %d partition entries are used", len(g.entries)/g.entrySize)
	}
	alignSectors := align / ss
	first := (end + alignSectors - 1) / alignSectors * alignSectors
	last := (lastUsable+1)/alignSectors*alignSectors - 1
	if last < first || (last-first+1)*ss < minSize {
		free := uint64(0)
		if last >= first {
			free = (last - first + 1) * ss
		}
		return Entry{}, fmt.Errorf("only %d MiB free after the last partition, need %d MiB", free>>20, minSize>>20)
	}
	e := Entry{Number: slot + 1, Type: typ, ID: uuid.New(), FirstLBA: first, LastLBA: last, Name: name}

	raw := g.entries[slot*g.entrySize : (slot+1)*g.entrySize]
	clear(raw)
	copy(raw[0:], guidToDisk(e.Type))
	copy(raw[16:], guidToDisk(e.ID))
	binary.LittleEndian.PutUint64(raw[32:], e.FirstLBA)
	binary.LittleEndian.PutUint64(raw[40:], e.LastLBA)
	copy(raw[56:], rawName)
	g.Partitions = append(g.Partitions, e)
	g.LastUsable = lastUsable
	g.AlternateLBA = lastLBA
	return e, nil
}

// Write stores g on disk (size bytes): the backup entry array and header at the disk's end,
// then the primary ones, so an interrupted write leaves the old primary table in place, and the
// protective MBR's partition grown to cover the disk.
func (g *GPT) Write(disk interface {
	io.ReaderAt
	io.WriterAt
}, size int64) error {
	ss := int64(g.SectorSize)
	lastLBA := uint64(size/ss) - 1
	if g.AlternateLBA != lastLBA {
		return fmt.Errorf("table's backup header is at sector %d, not the disk's last sector %d", g.AlternateLBA, lastLBA)
	}
	entrySectors := (uint64(len(g.entries)) + uint64(ss) - 1) / uint64(ss)
	backupEntries := lastLBA - entrySectors
	// Keep the primary entry array where it was if we read the primary header; if we had to
	// read the backup, put it in its usual place after the primary header.
	primaryEntries := uint64(2)
	if binary.LittleEndian.Uint64(g.header[24:]) == 1 {
		primaryEntries = g.EntriesLBA
	}
	entriesCRC := crc32.ChecksumIEEE(g.entries)
	for _, h := range []struct{ my, alternate, entries uint64 }{
		{lastLBA, 1, backupEntries},
		{1, lastLBA, primaryEntries},
	} {
		if _, err := disk.WriteAt(g.entries, int64(h.entries)*ss); err != nil {
			return fmt.Errorf("writing partition entries at sector %d: %w", h.entries, err)
		}
		hdr := make([]byte, len(g.header))
		copy(hdr, g.header)
		le := binary.LittleEndian
		le.PutUint64(hdr[24:], h.my)
		le.PutUint64(hdr[32:], h.alternate)
		le.PutUint64(hdr[48:], g.LastUsable)
		le.PutUint64(hdr[72:], h.entries)
		le.PutUint32(hdr[88:], entriesCRC)
		le.PutUint32(hdr[16:], headerCRC(hdr))
		if _, err := disk.WriteAt(hdr, int64(h.my)*ss); err != nil {
			return fmt.Errorf("writing GPT header at sector %d: %w", h.my, err)
		}
	}
	return growProtectiveMBR(disk, lastLBA)
}

// growProtectiveMBR sets the size of the protective MBR's 0xEE partition to the whole disk
// (capped at 2^32-1 sectors, as UEFI says), if there is one.
func growProtectiveMBR(disk interface {
	io.ReaderAt
	io.WriterAt
}, lastLBA uint64) error {
	mbr := make([]byte, 512)
	if _, err := disk.ReadAt(mbr, 0); err != nil {
		return fmt.Errorf("reading the protective MBR: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return nil
	}
	for i := 0; i < 4; i++ {
		rec := mbr[446+16*i : 446+16*(i+1)]
		if rec[4] != 0xee {
			continue
		}
		binary.LittleEndian.PutUint32(rec[12:], uint32(min(lastLBA, 0xffffffff)))
		if _, err := disk.WriteAt(mbr, 0); err != nil {
			return fmt.Errorf("writing the protective MBR: %w", err)
		}
		return nil
	}
	return nil
}
