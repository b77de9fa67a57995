package blockdev

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unsafe"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"
)

// Partition is a partition found on a disk.
type Partition struct {
	Entry
	// Disk is the whole disk's node (/dev/vda), Path the partition's (/dev/vda2).
	Disk, Path string
	SectorSize int
}

// Bytes is the partition's size.
func (p Partition) Bytes() uint64 { return p.Sectors() * uint64(p.SectorSize) }

// PartitionPath names partition n of disk the way the kernel does: disks whose name ends in a
// digit get a "p" before the number (/dev/nvme0n1p2, /dev/loop0p1), others not (/dev/vda2).
func PartitionPath(disk string, n int) string {
	if r := []rune(disk); len(r) > 0 && unicode.IsDigit(r[len(r)-1]) {
		return fmt.Sprintf("%sp%d", disk, n)
	}
	return fmt.Sprintf("%s%d", disk, n)
}

// ReadDisk reads the GPT of a disk node (or image file).
func ReadDisk(path string) (*GPT, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sectorSize, size, err := geometry(f)
	if err != nil {
		return nil, err
	}
	g, err := ReadGPT(f, sectorSize, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// geometry returns a block device's logical sector size and size; for a regular file, 512 and
// its length.
func geometry(f *os.File) (sectorSize int, size int64, err error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	if st.Mode().IsRegular() {
		return 512, st.Size(), nil
	}
	if sectorSize, err = unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET); err != nil {
		return 0, 0, fmt.Errorf("%s: BLKSSZGET: %w", f.Name(), err)
	}
	var sz uint64
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&sz))); errno != 0 {
		return 0, 0, fmt.Errorf("%s: BLKGETSIZE64: %w", f.Name(), errno)
	}
	return sectorSize, int64(sz), nil
}

// Query says which partition to find.
type Query struct {
	Type uuid.UUID
	Name string
	// Disks are the disk nodes to look at; if empty, every whole disk the kernel lists in
	// /sys/class/block except loop, RAM, device-mapper and optical devices.
	Disks []string
}

func (q Query) String() string { return fmt.Sprintf("partition %q (type %s)", q.Name, q.Type) }

// Find looks for exactly one partition matching q, and its device node, until found or ctx
// ends; disks appear some time after their driver loads. On timeout the error lists the block
// devices the kernel has and what was found on each.
func Find(ctx context.Context, q Query) (Partition, error) {
	for {
		p, report, err := findOnce(q)
		if err == nil {
			_, err = os.Stat(p.Path)
			if err == nil {
				return p, nil
			}
			report = fmt.Sprintf("%s found, but its node: %v", p.Path, err)
		} else if !errors.Is(err, errNotFound) {
			return Partition{}, err
		}
		select {
		case <-ctx.Done():
			return Partition{}, fmt.Errorf("no %s: %w; block devices: %s", q, ctx.Err(), report)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var errNotFound = errors.New("not found")

// findOnce looks at the disks once. It returns errNotFound with a report of what each disk held
// if nothing matched, and an error if more than one partition did: which to trust would then
// depend on probe order.
func findOnce(q Query) (Partition, string, error) {
	disks := q.Disks
	var report []string
	if len(disks) == 0 {
		names, err := wholeDisks()
		if err != nil {
			return Partition{}, "", err
		}
		for _, n := range names {
			disks = append(disks, "/dev/"+n)
		}
	}
	var found []Partition
	for _, d := range disks {
		g, err := ReadDisk(d)
		if err != nil {
			report = append(report, err.Error())
			continue
		}
		var names []string
		for _, e := range g.Partitions {
			names = append(names, fmt.Sprintf("%d %q", e.Number, e.Name))
			if e.Type == q.Type && e.Name == q.Name {
				found = append(found, Partition{Entry: e, Disk: d, Path: PartitionPath(d, e.Number), SectorSize: g.SectorSize})
			}
		}
		report = append(report, fmt.Sprintf("%s: partitions %s", d, strings.Join(names, ", ")))
	}
	if len(report) == 0 {
		report = []string{"none"}
	}
	switch len(found) {
	case 0:
		return Partition{}, strings.Join(report, "; "), errNotFound
	case 1:
		return found[0], "", nil
	}
	return Partition{}, "", fmt.Errorf("%s is on more than one disk: %s and %s", q, found[0].Path, found[1].Path)
}

// wholeDisks lists the kernel's whole disks (not partitions) that could hold a node's
// partitions.
func wholeDisks() ([]string, error) {
	entries, err := os.ReadDir("/sys/class/block")
	if err != nil {
		return nil, fmt.Errorf("listing block devices: %w", err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if _, err := os.Stat(filepath.Join("/sys/class/block", n, "partition")); err == nil {
			continue
		}
		skip := false
		for _, prefix := range []string{"loop", "ram", "zram", "dm-", "sr", "fd", "nbd"} {
			skip = skip || strings.HasPrefix(n, prefix)
		}
		if !skip {
			out = append(out, n)
		}
	}
	return out, nil
}
