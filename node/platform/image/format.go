package image

import "metropolis.dev/metropolis/osbase/ext4fs"

// dataInodeRatio is bytes per inode on the data partition: the node stores few, mostly large
// files (etcd, container layers come later), and a smaller inode table formats much faster
// under emulation.
const dataInodeRatio = 64 << 10

// formatExt4 puts a new ext4 file system on the data partition's block device at path.
func formatExt4(path string, size int64) error {
	return ext4fs.Format(path, size, ext4fs.Params{Label: "metropolis-data", InodeRatio: dataInodeRatio})
}
