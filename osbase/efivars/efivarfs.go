// The quirks of efivarfs that plain files do not have.

package efivars

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// fsImmutableFL is FS_IMMUTABLE_FL from linux/fs.h, which x/sys/unix does not export.
const fsImmutableFL = 0x00000010

// clearImmutable clears the immutable inode flag of path if it is set. efivarfs sets it on
// variables the kernel does not know to be safe to change, and writes and deletes fail with
// EPERM until it is cleared. A missing file, or a filesystem without inode flags (a plain test
// directory), is fine: there is nothing to clear.
func clearImmutable(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	err = rc.Control(func(fd uintptr) {
		var flags uint32
		flags, ierr = unix.IoctlGetUint32(int(fd), unix.FS_IOC_GETFLAGS)
		if ierr != nil {
			ierr = noFlags(ierr, "FS_IOC_GETFLAGS")
			return
		}
		if flags&fsImmutableFL == 0 {
			return
		}
		ierr = noFlags(unix.IoctlSetPointerInt(int(fd), unix.FS_IOC_SETFLAGS, int(flags&^fsImmutableFL)), "FS_IOC_SETFLAGS")
	})
	if err != nil {
		return err
	}
	return ierr
}

// noFlags drops the errors of a filesystem that has no inode flags at all.
func noFlags(err error, ioctl string) error {
	if err == nil || errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) {
		return nil
	}
	return fmt.Errorf("clear immutable flag: %s: %w", ioctl, err)
}

// isEfivarfs reports whether f lives on efivarfs.
func isEfivarfs(f *os.File) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var st unix.Statfs_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstatfs(int(fd), &st) }); err != nil {
		return false, err
	}
	if serr != nil {
		return false, fmt.Errorf("fstatfs: %w", serr)
	}
	return uint32(st.Type) == unix.EFIVARFS_MAGIC, nil
}

// writeOnce writes buf in a single write() call: efivarfs takes each call as a whole variable
// (attributes and data), so the retry loop of os.File.Write would be wrong there.
func writeOnce(file *os.File, buf []byte) error {
	rc, err := file.SyscallConn()
	if err != nil {
		return err
	}
	var n int
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for {
			n, werr = unix.Write(int(fd), buf)
			if werr != unix.EINTR {
				return true
			}
		}
	})
	if err != nil {
		return err
	}
	if werr != nil {
		return fmt.Errorf("write(): %w", werr)
	}
	if n != len(buf) {
		return fmt.Errorf("short write: %d of %d bytes", n, len(buf))
	}
	return nil
}
