// Package ext4fs makes ext4 file systems and grows mounted ones.
//
// Nodes have no mkfs or resize2fs (no binaries but ours): go-diskfs writes new file systems,
// and the kernel grows mounted ones itself (EXT4_IOC_RESIZE_FS, online resize). Users: the
// node's data partition (node/platform/image) and the local volumes of Kubernetes workers
// (node/kubernetes/localvolume).
package ext4fs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/ext4"
	"golang.org/x/sys/unix"
)

// Params are what a caller chooses about a new file system.
type Params struct {
	// Label is the volume name (at most 16 bytes).
	Label string
	// InodeRatio is bytes per inode: fewer inodes format faster, under emulation noticeably.
	// Zero takes go-diskfs' default.
	InodeRatio int64
}

// Format puts a new ext4 file system of size bytes on the block device or regular file at
// path, which must already be that large.
func Format(path string, size int64, p Params) error {
	if len(p.Label) > 16 {
		return fmt.Errorf("format %s: label %q is longer than ext4's 16 bytes", path, p.Label)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("format %s: %w", path, err)
	}
	defer f.Close()
	if _, err := ext4.Create(file.New(f, false), size, 0, 512, &ext4.Params{VolumeName: p.Label, InodeRatio: p.InodeRatio}); err != nil {
		return fmt.Errorf("format %s as ext4: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("format %s: %w", path, err)
	}
	return nil
}

// ext4IOCResizeFS is EXT4_IOC_RESIZE_FS, _IOW('f', 16, __u64): not in x/sys.
const ext4IOCResizeFS = 0x40086610

// Grow grows the ext4 file system mounted at mountpoint to fill its block device, which
// must have grown first. Files stay open and in use while it runs.
func Grow(mountpoint string, deviceSize int64) error {
	d, err := os.Open(mountpoint)
	if err != nil {
		return fmt.Errorf("grow the file system at %s: %w", mountpoint, err)
	}
	defer d.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(d.Fd()), &st); err != nil {
		return fmt.Errorf("grow the file system at %s: %w", mountpoint, err)
	}
	if st.Type != unix.EXT4_SUPER_MAGIC {
		return fmt.Errorf("grow the file system at %s: it is not ext4 (magic %#x)", mountpoint, st.Type)
	}
	blocks := uint64(deviceSize) / uint64(st.Bsize)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, d.Fd(), ext4IOCResizeFS, uintptr(unsafe.Pointer(&blocks))); errno != 0 {
		return fmt.Errorf("grow the file system at %s to %d blocks: %w", mountpoint, blocks, errno)
	}
	return nil
}

// Size reads the size in bytes of the ext4 file system on the device or file at path from
// its superblock, mounted or not: whether Grow has anything to do.
func Size(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("size of the file system on %s: %w", path, err)
	}
	defer f.Close()
	sb := make([]byte, 1024)
	if _, err := f.ReadAt(sb, 1024); err != nil {
		return 0, fmt.Errorf("size of the file system on %s: read its superblock: %w", path, err)
	}
	return superblockSize(sb)
}

// superblockSize is a file system's size from its superblock (the 1024 bytes at offset 1024).
func superblockSize(sb []byte) (int64, error) {
	if len(sb) < 1024 || binary.LittleEndian.Uint16(sb[0x38:]) != 0xef53 {
		return 0, errors.New("no ext4 superblock")
	}
	logBlockSize := binary.LittleEndian.Uint32(sb[0x18:])
	if logBlockSize > 6 { // 64 KiB blocks at most
		return 0, fmt.Errorf("ext4 superblock: block size 2^(10+%d) out of range", logBlockSize)
	}
	blocks := uint64(binary.LittleEndian.Uint32(sb[0x4:]))
	const incompat64Bit = 0x80
	if binary.LittleEndian.Uint32(sb[0x60:])&incompat64Bit != 0 {
		blocks |= uint64(binary.LittleEndian.Uint32(sb[0x150:])) << 32
	}
	size := blocks << (10 + logBlockSize)
	if size>>(10+logBlockSize) != blocks || size > 1<<62 {
		return 0, fmt.Errorf("ext4 superblock: %d blocks is out of range", blocks)
	}
	return int64(size), nil
}
