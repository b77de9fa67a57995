package watchdog

import (
	"errors"
	"fmt"
	"os"
)

// DefaultPath is the first watchdog device. /dev/watchdog is the same device under its legacy
// name.
const DefaultPath = "/dev/watchdog0"

// Watchdog is an open watchdog device. Opening the device arms the watchdog on most drivers;
// from then on the machine resets unless it is fed (Ping) within the timeout. The kernel lets
// only one open file hold the device at a time, which is why it is passed on (FromFile) rather
// than opened again.
type Watchdog struct {
	f *os.File
}

// Open opens the watchdog device at path, DefaultPath if path is empty. This arms the
// watchdog with the driver's current timeout.
func Open(path string) (*Watchdog, error) {
	if path == "" {
		path = DefaultPath
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("watchdog: %w", err)
	}
	return &Watchdog{f: f}, nil
}

// FromFile wraps a watchdog device that is already open, such as one inherited across exec
// (os.NewFile on the descriptor number). For the device to survive exec, its descriptor must
// not be close-on-exec: Go opens every file close-on-exec, so the program that hands it on
// either passes it in exec.Cmd.ExtraFiles (which clears the flag in the child) or clears
// FD_CLOEXEC itself before syscall.Exec.
func FromFile(f *os.File) *Watchdog {
	return &Watchdog{f: f}
}

// File returns the open device, to hand on across exec.
func (w *Watchdog) File() *os.File {
	return w.f
}

// Close closes the device WITHOUT stopping the watchdog. It keeps counting down, and the
// machine resets at the end of the timeout unless someone opens and feeds it again. That is the
// point: a program that dies, or a handover that never completes, ends in a reset rather than
// a hung machine.
func (w *Watchdog) Close() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("watchdog: close: %w", err)
	}
	return nil
}

// Disarm stops the watchdog: it writes the magic character 'V' and closes the device ("magic
// close"). Drivers without magic close support, and kernels built or booted with nowayout,
// keep the watchdog running anyway; then Disarm is no better than Close.
func (w *Watchdog) Disarm() error {
	_, werr := w.f.Write([]byte("V"))
	if werr != nil {
		werr = fmt.Errorf("watchdog: write magic close character: %w", werr)
	}
	cerr := w.f.Close()
	if cerr != nil {
		cerr = fmt.Errorf("watchdog: close: %w", cerr)
	}
	return errors.Join(werr, cerr)
}
