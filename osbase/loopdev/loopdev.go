// Package loopdev attaches regular files to loop block devices, finds the devices a file is
// attached to, grows them after their file grew, and detaches them.
//
// It owns only the kernel's loop interface (/dev/loop-control and the LOOP_* ioctls of
// golang.org/x/sys/unix): which files to attach and what lives in them is the caller's. The
// local volume driver (node/kubernetes/localvolume) gives each volume a file of its own and
// a loop device while a pod uses it.
package loopdev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Device is an attached loop device.
type Device struct {
	// Path is the device node, /dev/loopN.
	Path string
	// Number is N.
	Number int
}

// sysBlock is where the kernel lists block devices; a variable so tests of Find's parsing
// could point it elsewhere.
var sysBlock = "/sys/block"

// Attach attaches the file at path to a free loop device and returns it; Detach lets it go.
// (The kernel's autoclear flag is not used: it detaches on the last close, which may come
// before the caller's mount or open.) The device uses direct I/O where the backing file
// system allows, so pages are not cached twice.
func Attach(path string) (Device, error) {
	backing, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return Device{}, fmt.Errorf("attach %s to a loop device: %w", path, err)
	}
	defer backing.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return Device{}, fmt.Errorf("attach %s: %w (is the loop module loaded?)", path, err)
	}
	defer ctl.Close()
	// Another process may take the free device between asking and configuring it: ask again.
	for attempt := 0; attempt < 8; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return Device{}, fmt.Errorf("attach %s: no free loop device: %w", path, err)
		}
		dev := Device{Path: "/dev/loop" + strconv.Itoa(n), Number: n}
		err = configure(dev, backing)
		if errors.Is(err, unix.EBUSY) {
			continue
		}
		if err != nil {
			return Device{}, fmt.Errorf("attach %s to %s: %w", path, dev.Path, err)
		}
		return dev, nil
	}
	return Device{}, fmt.Errorf("attach %s: every free loop device was taken before it could be configured", path)
}

func configure(dev Device, backing *os.File) error {
	f, err := openDevice(dev)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg := unix.LoopConfig{Fd: uint32(backing.Fd())}
	cfg.Info.Flags = unix.LO_FLAGS_DIRECT_IO
	copy(cfg.Info.File_name[:], backing.Name())
	err = unix.IoctlLoopConfigure(int(f.Fd()), &cfg)
	if errors.Is(err, unix.EINVAL) {
		// Direct I/O needs the backing file system's block size to match; fall back to
		// buffered I/O rather than refuse.
		cfg.Info.Flags &^= unix.LO_FLAGS_DIRECT_IO
		err = unix.IoctlLoopConfigure(int(f.Fd()), &cfg)
	}
	return err
}

// openDevice opens /dev/loopN, creating the node if devtmpfs has not (yet) shown it.
func openDevice(dev Device) (*os.File, error) {
	f, err := os.OpenFile(dev.Path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		if err := unix.Mknod(dev.Path, unix.S_IFBLK|0o600, int(unix.Mkdev(7, uint32(dev.Number)))); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create %s: %w", dev.Path, err)
		}
		f, err = os.OpenFile(dev.Path, os.O_RDWR, 0)
	}
	return f, err
}

// Find returns the loop devices the file at path is attached to, in no particular order.
func Find(path string) ([]Device, error) {
	want, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(sysBlock)
	if err != nil {
		return nil, fmt.Errorf("list loop devices: %w", err)
	}
	var found []Device
	for _, e := range entries {
		n, ok := loopNumber(e.Name())
		if !ok {
			continue
		}
		backing, err := os.ReadFile(filepath.Join(sysBlock, e.Name(), "loop", "backing_file"))
		if err != nil {
			continue // not attached
		}
		if strings.TrimSuffix(string(backing), "\n") == want {
			found = append(found, Device{Path: "/dev/" + e.Name(), Number: n})
		}
	}
	return found, nil
}

// loopNumber parses N out of a block device name loopN.
func loopNumber(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "loop")
	if !ok || rest == "" {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0
}

// Grow makes the device take its backing file's current size, after the file grew.
func Grow(dev Device) error {
	f, err := openDevice(dev)
	if err != nil {
		return fmt.Errorf("grow %s: %w", dev.Path, err)
	}
	defer f.Close()
	if err := unix.IoctlSetInt(int(f.Fd()), unix.LOOP_SET_CAPACITY, 0); err != nil {
		return fmt.Errorf("grow %s to its file's size: %w", dev.Path, err)
	}
	return nil
}

// Detach detaches the device from its file. A device still mounted or open is detached by
// the kernel once its last user lets go.
func Detach(dev Device) error {
	f, err := openDevice(dev)
	if err != nil {
		return fmt.Errorf("detach %s: %w", dev.Path, err)
	}
	defer f.Close()
	if err := unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0); err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("detach %s: %w", dev.Path, err)
	}
	return nil
}
