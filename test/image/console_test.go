package image

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// waitForConsole waits until the console log at path contains want at least count times, or
// fails the test with the log's end.
func waitForConsole(t *testing.T, path, want string, count int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(path)
		if strings.Count(string(data), want) >= count {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %s does not show %q %d times; its end:\n%s", timeout, path, want, count, tail(string(data), 30))
		}
		time.Sleep(time.Second)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor calls check every second until it returns nil, or fails the test with its last error.
func waitFor(t *testing.T, timeout time.Duration, what string, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < timeout {
		if err = check(); err == nil {
			return time.Since(start)
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("gave up after %v waiting for %s: %v", timeout, what, err)
	return 0
}

// flipByte inverts one byte of the file at path.
func flipByte(path string, offset int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, offset); err != nil {
		return fmt.Errorf("read byte %d of %s: %w", offset, path, err)
	}
	b[0] ^= 0xff
	_, err = f.WriteAt(b, offset)
	return err
}
