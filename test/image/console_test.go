package image

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/osbase/eventually"
)

// waitForConsole waits until the console log at path contains want at least count times, or
// fails the test with the log's end.
func waitForConsole(t *testing.T, path, want string, count int, timeout time.Duration) {
	t.Helper()
	eventually.Pass(t, timeout, fmt.Sprintf("%q %d times in %s", want, count, path), func(context.Context) error {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if n := strings.Count(string(data), want); n < count {
			return fmt.Errorf("%d times; its end:\n%s", n, tail(string(data), 30))
		}
		return nil
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
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
