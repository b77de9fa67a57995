package main

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/node/platform/image/layout"
)

// earlyMounts are the kernel filesystems mounted first and moved into the new root.
var earlyMounts = []struct{ path, fstype string }{
	{"/dev", "devtmpfs"},
	{"/proc", "proc"},
	{"/sys", "sysfs"},
}

func mountEarly() error {
	for _, m := range earlyMounts {
		if err := os.MkdirAll(m.path, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.fstype, m.path, m.fstype, unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mounting %s on %s: %w", m.fstype, m.path, err)
		}
	}
	return nil
}

// mountSystem mounts the verified device read-only at newRoot and checks it holds the node.
func mountSystem(dev string) error {
	if err := os.MkdirAll(newRoot, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(dev, newRoot, "erofs", unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("mounting the verified system partition %s (erofs) on %s: %w", dev, newRoot, err)
	}
	if _, err := os.Stat(filepath.Join(newRoot, layout.SystemNodeBinary)); err != nil {
		return fmt.Errorf("the system partition has no node program: %w", err)
	}
	return nil
}

// switchRoot makes newRoot the root filesystem, as util-linux's switch_root does: move the
// kernel filesystems into it, free the initramfs (its memory is not returned otherwise),
// move newRoot over / and chroot into it.
func switchRoot() error {
	for _, m := range earlyMounts {
		target := filepath.Join(newRoot, m.path)
		if err := unix.Mount(m.path, target, "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("moving %s to %s (the system partition must have the directory): %w", m.path, target, err)
		}
	}
	var root unix.Stat_t
	if err := unix.Stat("/", &root); err != nil {
		return err
	}
	var fs unix.Statfs_t
	if err := unix.Statfs("/", &fs); err != nil {
		return err
	}
	// Only ever clean out the initramfs (a ramfs or tmpfs), never a real root filesystem.
	if fs.Type == unix.RAMFS_MAGIC || fs.Type == unix.TMPFS_MAGIC {
		removeTree("/", root.Dev)
	}
	if err := unix.Chdir(newRoot); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("moving %s to /: %w", newRoot, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot to the system partition: %w", err)
	}
	return unix.Chdir("/")
}

// removeTree deletes what is below dir on the filesystem dev, not crossing into other
// filesystems (the new root, and anything else mounted). Errors are ignored: what is left only
// costs memory.
func removeTree(dir string, dev uint64) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil || st.Dev != dev {
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			removeTree(p, dev)
			_ = unix.Rmdir(p)
		} else {
			_ = unix.Unlink(p)
		}
	}
}
