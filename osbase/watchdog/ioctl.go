package watchdog

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SetTimeout sets the watchdog timeout to d, rounded up to whole seconds (the unit of the
// interface; rounding down could reset a machine that is fed on schedule). It returns the
// timeout the driver actually set, which may differ: drivers clamp to what the hardware can
// count.
func (w *Watchdog) SetTimeout(d time.Duration) (time.Duration, error) {
	secs, err := timeoutSeconds(d)
	if err != nil {
		return 0, fmt.Errorf("watchdog: WDIOC_SETTIMEOUT: %w", err)
	}
	// The kernel reads the new timeout from v and writes the one it set back into it.
	v := secs
	if err := w.ioctl("WDIOC_SETTIMEOUT", unix.WDIOC_SETTIMEOUT, &v); err != nil {
		return 0, err
	}
	return time.Duration(v) * time.Second, nil
}

// Timeout returns the current watchdog timeout.
func (w *Watchdog) Timeout() (time.Duration, error) {
	var v int32
	if err := w.ioctl("WDIOC_GETTIMEOUT", unix.WDIOC_GETTIMEOUT, &v); err != nil {
		return 0, err
	}
	return time.Duration(v) * time.Second, nil
}

// Ping feeds the watchdog, restarting its countdown. It uses WDIOC_KEEPALIVE and falls back to
// writing a byte, which every driver takes as a ping, when the ioctl is not there (ENOTTY) or
// the driver does not offer it (EOPNOTSUPP). The byte is not 'V', so it never arms magic close.
func (w *Watchdog) Ping() error {
	var v int32
	err := w.ioctl("WDIOC_KEEPALIVE", unix.WDIOC_KEEPALIVE, &v)
	if err == nil || !(errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP)) {
		return err
	}
	if _, err := w.f.Write([]byte("k")); err != nil {
		return fmt.Errorf("watchdog: ping by write: %w", err)
	}
	return nil
}

// timeoutSeconds converts d to the whole seconds the kernel takes, rounding up.
func timeoutSeconds(d time.Duration) (int32, error) {
	if d <= 0 {
		return 0, fmt.Errorf("timeout %v is not positive", d)
	}
	secs := d / time.Second
	if d%time.Second != 0 {
		secs++
	}
	if secs > math.MaxInt32 {
		return 0, fmt.Errorf("timeout %v is too long", d)
	}
	return int32(secs), nil
}

// ioctl runs an ioctl whose argument is a pointer to an int, in or out.
func (w *Watchdog) ioctl(name string, req uintptr, v *int32) error {
	rc, err := w.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("watchdog: %s: %w", name, err)
	}
	var errno unix.Errno
	err = rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, req, uintptr(unsafe.Pointer(v)))
	})
	if err != nil {
		return fmt.Errorf("watchdog: %s: %w", name, err)
	}
	if errno != 0 {
		return fmt.Errorf("watchdog: %s: %w", name, errno)
	}
	return nil
}
