package image

import (
	"fmt"
	"os"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/ext4"
)

// dataInodeRatio is bytes per inode on the data partition: the node stores few, mostly large
// files (etcd, container layers come later), and a smaller inode table formats much faster
// under emulation.
const dataInodeRatio = 64 << 10

// formatExt4 puts a new ext4 file system on the block device at path. There is no mkfs on the
// node (no binaries but ours), so go-diskfs writes it; the kernel mounts it like any other.
func formatExt4(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("format %s: %w", path, err)
	}
	defer f.Close()
	if _, err := ext4.Create(file.New(f, false), size, 0, 512, &ext4.Params{VolumeName: "metropolis-data", InodeRatio: dataInodeRatio}); err != nil {
		return fmt.Errorf("format %s as ext4: %w", path, err)
	}
	return f.Sync()
}
