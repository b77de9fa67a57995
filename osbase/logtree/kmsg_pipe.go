package logtree

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// KmsgPath is where Linux exposes the kernel log as records.
const KmsgPath = "/dev/kmsg"

// KmsgPipe copies the kernel log into l until ctx is cancelled, starting with
// whatever the kernel still holds from boot. Each record becomes one leveled
// entry with the record's own time and a severity from its level. It is meant
// to run as the body of a runnable logging to a DN like "root.kernel"; on a
// machine without /dev/kmsg it fails at once with the open error.
func KmsgPipe(ctx context.Context, l LeveledLogger) error {
	f, err := os.Open(KmsgPath)
	if err != nil {
		return fmt.Errorf("open kernel log: %w", err)
	}
	defer f.Close()
	// Closing the file is what interrupts a blocked Read when ctx ends.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			f.Close()
		case <-stop:
		}
	}()

	boot, err := bootTime()
	if err != nil {
		return err
	}
	// The kernel refuses reads into a buffer smaller than the record; 8 KiB
	// covers its largest (CONSOLE_EXT_LOG_MAX).
	buf := make([]byte, 8192)
	for {
		n, err := f.Read(buf)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, syscall.EPIPE):
			// The ring buffer wrapped past our read position; the read
			// position has been moved on to the oldest record still there.
			l.Warning("kernel log overwritten before it could be read: some kernel messages are lost")
			continue
		case err != nil:
			return fmt.Errorf("read kernel log: %w", err)
		}
		rec, err := ParseKmsgRecord(buf[:n])
		if err != nil {
			l.Warningf("skipping kernel log record: %v", err)
			continue
		}
		l.LogExternal(ExternalEntry{Time: boot.Add(rec.SinceBoot), Severity: rec.Severity(), Message: rec.Message})
	}
}

// bootTime estimates the wall-clock time at which the kernel's clock read
// zero. Kernel timestamps follow the monotonic clock, so it is now minus the
// monotonic reading.
func bootTime() (time.Time, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return time.Time{}, fmt.Errorf("read monotonic clock: %w", err)
	}
	return time.Now().Add(-time.Duration(ts.Nano())), nil
}
