package mkimage

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// CpioEntry is one file, directory or device node of a newc cpio archive (the initramfs).
type CpioEntry struct {
	// Name is the path without a leading slash, as the kernel's unpacker expects ("init",
	// "lib/modules").
	Name string
	// Mode carries the file type bits (S_IFREG, S_IFDIR, S_IFCHR) and permissions.
	Mode uint32
	// RdevMajor and RdevMinor are a device node's numbers.
	RdevMajor, RdevMinor uint32
	Data                 []byte
}

// File type bits of a cpio mode (as in stat(2)).
const (
	modeTypeMask = 0o170000
	modeDir      = 0o040000
	modeRegular  = 0o100000
	modeCharDev  = 0o020000
)

const (
	cpioMagic   = "070701"
	cpioTrailer = "TRAILER!!!"
	// cpioHeaderSize is the magic and 13 eight-digit hex fields.
	cpioHeaderSize = 6 + 13*8
)

// writeCpio writes entries as a newc archive, sorted by name, with inode numbers in that
// order, owner 0:0 and the given mtime: the same entries always give the same bytes.
func writeCpio(w io.Writer, entries []CpioEntry, mtime int64) error {
	sorted := append([]CpioEntry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	bw := bufio.NewWriter(w)
	var offset int64
	write := func(e CpioEntry, ino uint32) error {
		nlink := uint32(1)
		if e.Mode&modeTypeMask == modeDir {
			nlink = 2
		}
		fields := []uint32{ino, e.Mode, 0, 0, nlink, uint32(mtime), uint32(len(e.Data)), 0, 0,
			e.RdevMajor, e.RdevMinor, uint32(len(e.Name) + 1), 0}
		var hdr strings.Builder
		hdr.WriteString(cpioMagic)
		for _, f := range fields {
			fmt.Fprintf(&hdr, "%08X", f)
		}
		hdr.WriteString(e.Name)
		hdr.WriteByte(0)
		n, _ := bw.WriteString(hdr.String())
		offset += int64(n)
		offset += padTo4(bw, offset)
		n, _ = bw.Write(e.Data)
		offset += int64(n)
		offset += padTo4(bw, offset)
		return nil
	}
	for i, e := range sorted {
		if e.Name == "" || strings.HasPrefix(e.Name, "/") {
			return fmt.Errorf("initramfs entry %q: names are relative and not empty", e.Name)
		}
		if i > 0 && sorted[i-1].Name == e.Name {
			return fmt.Errorf("initramfs entry %q appears twice", e.Name)
		}
		if len(e.Data) > 0 && e.Mode&modeTypeMask != modeRegular {
			return fmt.Errorf("initramfs entry %q has data but is not a regular file", e.Name)
		}
		if err := write(e, uint32(i+1)); err != nil {
			return err
		}
	}
	if err := write(CpioEntry{Name: cpioTrailer}, 0); err != nil {
		return err
	}
	return bw.Flush()
}

func padTo4(w io.Writer, offset int64) int64 {
	pad := (4 - offset%4) % 4
	// w is a bufio.Writer: a failed write is kept and returned by its Flush.
	_, _ = w.Write(make([]byte, pad))
	return pad
}

// ReadCpio parses a newc cpio archive (as writeCpio writes and the kernel unpacks) up to its
// trailer. It is for checking an initramfs: it refuses anything malformed.
func ReadCpio(data []byte) ([]CpioEntry, error) {
	var out []CpioEntry
	off := 0
	for {
		if len(data)-off < cpioHeaderSize {
			return nil, fmt.Errorf("cpio: truncated header at offset %d", off)
		}
		hdr := data[off : off+cpioHeaderSize]
		if string(hdr[:6]) != cpioMagic {
			return nil, fmt.Errorf("cpio: bad magic %q at offset %d (want newc %s)", hdr[:6], off, cpioMagic)
		}
		var fields [13]uint64
		for i := range fields {
			v, err := strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("cpio: header field %d at offset %d is not hex: %w", i, off, err)
			}
			fields[i] = v
		}
		mode, fileSize, nameSize := fields[1], fields[6], fields[11]
		off += cpioHeaderSize
		if nameSize == 0 || nameSize > uint64(len(data)-off) {
			return nil, fmt.Errorf("cpio: name size %d at offset %d runs past the archive", nameSize, off)
		}
		name := data[off : off+int(nameSize)]
		if name[len(name)-1] != 0 {
			return nil, fmt.Errorf("cpio: name at offset %d is not NUL-terminated", off)
		}
		off = align4(off + int(nameSize))
		if string(name[:len(name)-1]) == cpioTrailer {
			return out, nil
		}
		if off > len(data) || fileSize > uint64(len(data)-off) {
			return nil, fmt.Errorf("cpio: %q: file size %d runs past the archive", name[:len(name)-1], fileSize)
		}
		out = append(out, CpioEntry{
			Name:      string(name[:len(name)-1]),
			Mode:      uint32(mode),
			RdevMajor: uint32(fields[9]),
			RdevMinor: uint32(fields[10]),
			Data:      bytes.Clone(data[off : off+int(fileSize)]),
		})
		off = align4(off + int(fileSize))
	}
}

func align4(n int) int { return (n + 3) &^ 3 }

// ReadInitramfs reads a gzip'd newc initramfs file as Build writes it.
func ReadInitramfs(path string) ([]CpioEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("initramfs %s: %w", path, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("initramfs %s: %w", path, err)
	}
	entries, err := ReadCpio(data)
	if err != nil {
		return nil, fmt.Errorf("initramfs %s: %w", path, err)
	}
	if len(entries) == 0 {
		return nil, errors.New("initramfs " + path + " is empty")
	}
	return entries, nil
}
