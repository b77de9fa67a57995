package devicemapper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ControlPath is the device-mapper control node; devtmpfs creates it when dm-mod loads.
const ControlPath = "/dev/mapper/control"

// call runs one device-mapper ioctl on a fresh descriptor of the control node and returns the
// kernel's reply. Errors name the command, the device and the errno.
func call(cmd command, req request) (reply, error) {
	buf, err := req.encode()
	if err != nil {
		return reply{}, fmt.Errorf("%s %q: %w", cmd, req.name, err)
	}
	// A table with a key in it is wiped from our memory too once the kernel has it.
	if req.flags&flagSecureData != 0 {
		defer clear(buf)
	}
	fd, err := unix.Open(ControlPath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return reply{}, fmt.Errorf("%s %q: opening %s (is dm-mod loaded?): %w", cmd, req.name, ControlPath, err)
	}
	defer unix.Close(fd)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), cmd.request(), uintptr(unsafe.Pointer(&buf[0])))
	if errno != 0 {
		return reply{}, fmt.Errorf("%s %q: %w (%s)", cmd, req.name, errno, errnoHint(cmd, errno))
	}
	r, err := decodeReply(buf)
	if err != nil {
		return reply{}, fmt.Errorf("%s %q: %w", cmd, req.name, err)
	}
	if r.flags&flagBufferFull != 0 {
		return reply{}, fmt.Errorf("%s %q: reply did not fit in %d bytes", cmd, req.name, len(buf))
	}
	return r, nil
}

// errnoHint says what an errno usually means for a command, since the kernel's own message
// (in the kernel log) is not visible to the caller.
func errnoHint(cmd command, errno unix.Errno) string {
	switch {
	case errno == unix.EBUSY && cmd == cmdDevCreate:
		return "a device of this name exists"
	case errno == unix.ENXIO:
		return "no device of this name"
	case errno == unix.EINVAL && cmd == cmdTableLoad:
		return "the kernel refused the table; its log says why (target module not loaded, bad parameters, device too small)"
	case errno == unix.EBUSY && cmd == cmdDevRemove:
		return "the device is open or mounted"
	}
	return "see the kernel log"
}

// Version returns the kernel's device-mapper interface version.
func Version() ([3]uint32, error) {
	r, err := call(cmdVersion, request{})
	return r.version, err
}

// Device is an active device-mapper device.
type Device struct {
	Name string
	// Major and Minor are the block device's numbers; Path is its node, /dev/dm-MINOR.
	Major, Minor uint32
	Path         string
}

// Options change how a device is created.
type Options struct {
	// ReadOnly makes the device read-only (verity devices must be).
	ReadOnly bool
	// SecretTable marks the table as holding a key: the kernel wipes its buffers of it.
	SecretTable bool
}

// Create creates device name with table, activates it, and waits (until ctx ends) for its node
// /dev/dm-N to appear. If any step fails, the half-made device is removed.
func Create(ctx context.Context, name string, table []Target, opts Options) (*Device, error) {
	r, err := call(cmdDevCreate, request{name: name})
	if err != nil {
		return nil, err
	}
	dev := &Device{Name: name, Major: r.devMajor(), Minor: r.devMinor()}
	dev.Path = fmt.Sprintf("/dev/dm-%d", dev.Minor)
	var flags uint32
	if opts.ReadOnly {
		flags |= flagReadOnly
	}
	if opts.SecretTable {
		flags |= flagSecureData
	}
	if _, err := call(cmdTableLoad, request{name: name, flags: flags, targets: table}); err != nil {
		return nil, errors.Join(err, Remove(name))
	}
	// DM_DEV_SUSPEND without DM_SUSPEND_FLAG resumes: it swaps the loaded table in.
	if _, err := call(cmdDevSuspend, request{name: name}); err != nil {
		return nil, errors.Join(fmt.Errorf("activating: %w", err), Remove(name))
	}
	if err := waitForNode(ctx, dev); err != nil {
		return nil, errors.Join(err, Remove(name))
	}
	return dev, nil
}

// waitForNode waits for devtmpfs to create the device's node, and checks it is the device.
func waitForNode(ctx context.Context, dev *Device) error {
	for {
		var st unix.Stat_t
		err := unix.Stat(dev.Path, &st)
		if err == nil {
			if st.Mode&unix.S_IFMT != unix.S_IFBLK || unix.Major(st.Rdev) != dev.Major || unix.Minor(st.Rdev) != dev.Minor {
				return fmt.Errorf("device %s: %s is not block device %d:%d", dev.Name, dev.Path, dev.Major, dev.Minor)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("device %s: waiting for %s: %w (last: %v)", dev.Name, dev.Path, ctx.Err(), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Remove removes device name. It fails (EBUSY) while the device is open.
func Remove(name string) error {
	_, err := call(cmdDevRemove, request{name: name})
	return err
}

// Status returns each target's status line (STATUSTYPE_INFO, as `dmsetup status` shows it).
func Status(name string) ([]Target, error) {
	r, err := call(cmdTableStatus, request{name: name, bufSize: 16 << 10})
	if err != nil {
		return nil, err
	}
	ts, err := r.targetStatuses()
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", cmdTableStatus, name, err)
	}
	return ts, nil
}

// VerityStatus reports whether the verity device name has seen a corrupted block: its status
// is "V" (verified so far) or "C" (a block failed verification). It returns nil for "V" and
// an error for "C" or anything else.
func VerityStatus(name string) error {
	ts, err := Status(name)
	if err != nil {
		return err
	}
	if len(ts) != 1 || ts[0].Type != "verity" {
		return fmt.Errorf("device %s: not a single verity target: %v", name, ts)
	}
	switch f := strings.Fields(ts[0].Params); {
	case len(f) > 0 && f[0] == "V":
		return nil
	case len(f) > 0 && f[0] == "C":
		return fmt.Errorf("device %s: verity reports corruption (status %q)", name, ts[0].Params)
	default:
		return fmt.Errorf("device %s: unexpected verity status %q", name, ts[0].Params)
	}
}
