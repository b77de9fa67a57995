package main

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

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
