package main

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
	if err := readAll(path, 3<<20+4096); err != nil {
		t.Fatalf("reading a whole device: %v", err)
	}
	if err := readAll(path, 4<<20); err == nil || !strings.Contains(err.Error(), "is 3149824 bytes, want 4194304") {
		t.Fatalf("reading a short device: %v", err)
	}
	err := readAllAt(failingAt(5<<20), "/dev/dm-0", 8<<20)
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

// TestRemoveTreeStaysOnItsFilesystem checks that cleaning out the initramfs leaves other
// mounted filesystems (the new root) alone.
func TestRemoveTreeStaysOnItsFilesystem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	for _, p := range []string{"init", "lib/modules/6.1/modules.dep", "newroot/x"} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mounted := filepath.Join(dir, "newroot")
	if err := unix.Mount("tmpfs", mounted, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(mounted, unix.MNT_DETACH)
	if err := os.WriteFile(filepath.Join(mounted, "node"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	removeTree(dir, st.Dev)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "newroot" {
		t.Fatalf("left %v, want only newroot", entries)
	}
	if _, err := os.Stat(filepath.Join(mounted, "node")); err != nil {
		t.Fatalf("removeTree reached into another filesystem: %v", err)
	}
}
