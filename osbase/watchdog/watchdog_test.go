package watchdog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPlain opens a Watchdog on an empty regular file, where every ioctl fails with ENOTTY.
func openPlain(t *testing.T) (*Watchdog, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.File().Close() })
	return w, path
}

func content(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent")
	if _, err := Open(path); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("Open of a missing device: %v", err)
	}
}

func TestPingFallsBackToWrite(t *testing.T) {
	w, path := openPlain(t)
	for range 2 {
		if err := w.Ping(); err != nil {
			t.Fatal(err)
		}
	}
	if got := content(t, path); got != "kk" {
		t.Errorf("written %q, want %q", got, "kk")
	}
}

func TestPingWriteError(t *testing.T) {
	_, path := openPlain(t)
	f, err := os.Open(path) // read-only: the fallback write fails
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := FromFile(f).Ping(); err == nil || !strings.Contains(err.Error(), "ping by write") {
		t.Errorf("Ping on a read-only file: %v", err)
	}
}

func TestTimeoutIoctlsOnPlainFile(t *testing.T) {
	w, _ := openPlain(t)
	if _, err := w.SetTimeout(30 * time.Second); !errors.Is(err, unix.ENOTTY) || !strings.Contains(err.Error(), "WDIOC_SETTIMEOUT") {
		t.Errorf("SetTimeout: %v, want ENOTTY naming WDIOC_SETTIMEOUT", err)
	}
	if _, err := w.Timeout(); !errors.Is(err, unix.ENOTTY) || !strings.Contains(err.Error(), "WDIOC_GETTIMEOUT") {
		t.Errorf("Timeout: %v, want ENOTTY naming WDIOC_GETTIMEOUT", err)
	}
	if _, err := w.SetTimeout(0); err == nil || !strings.Contains(err.Error(), "not positive") {
		t.Errorf("SetTimeout(0): %v", err)
	}
}

func TestTimeoutSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int32
		err  bool
	}{
		{time.Second, 1, false},
		{30 * time.Second, 30, false},
		{1500 * time.Millisecond, 2, false},
		{time.Nanosecond, 1, false},
		{0, 0, true},
		{-time.Second, 0, true},
		{(1<<31 - 1) * time.Second, 1<<31 - 1, false},
		{(1<<31-1)*time.Second + 1, 0, true},
		{1<<63 - 1, 0, true},
	} {
		got, err := timeoutSeconds(tc.d)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("timeoutSeconds(%v) = %d, %v; want %d, error %v", tc.d, got, err, tc.want, tc.err)
		}
	}
}

func TestDisarmWritesMagicAndCloses(t *testing.T) {
	w, path := openPlain(t)
	if err := w.Disarm(); err != nil {
		t.Fatal(err)
	}
	if got := content(t, path); got != "V" {
		t.Errorf("written %q, want %q", got, "V")
	}
	if err := w.Ping(); err == nil {
		t.Error("Ping after Disarm succeeded")
	}
}

func TestCloseWritesNothing(t *testing.T) {
	w, path := openPlain(t)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := content(t, path); got != "" {
		t.Errorf("written %q, want nothing", got)
	}
}
