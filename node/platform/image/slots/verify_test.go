package slots

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadAll(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev")
	if err := os.WriteFile(path, make([]byte, 3<<20+4096), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ReadAll(path, 3<<20+4096, nil); err != nil {
		t.Fatalf("reading a whole device: %v", err)
	}
	if err := ReadAll(path, 4<<20, nil); err == nil || !strings.Contains(err.Error(), "is 3149824 bytes, want 4194304") {
		t.Fatalf("reading a short device: %v", err)
	}
	err := ReadAllAt(failingAt(5<<20), "/dev/dm-0", 8<<20, nil)
	if err == nil || !strings.Contains(err.Error(), "reading /dev/dm-0 in bytes 5242880..6291456: input/output error (a block does not match the verity hash tree)") {
		t.Fatalf("a read error is not reported as a verity failure at its place: %v", err)
	}
}

// failingAt is a device whose block at the given offset fails to read, as a corrupted block
// under dm-verity does.
type failingAt int64

func (f failingAt) ReadAt(p []byte, off int64) (int, error) {
	if off <= int64(f) && int64(f) < off+int64(len(p)) {
		return 0, unix.EIO
	}
	return len(p), nil
}
