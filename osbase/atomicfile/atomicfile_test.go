package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cert.pem")
	for _, step := range []struct {
		data string
		perm os.FileMode
	}{{"first", 0o600}, {"second, longer than the first", 0o644}, {"", 0o600}} {
		if err := Write(path, []byte(step.data), step.perm); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != step.data {
			t.Errorf("content %q, want %q", got, step.data)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != step.perm {
			t.Errorf("mode %v, want %v", st.Mode().Perm(), step.perm)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file (no temporary left)", len(entries))
	}
}

// TestWriteFailureKeepsOldContent replaces a file in a directory it cannot create files in
// (a directory where the path should be stands for that, also when run as root).
func TestWriteFailureKeepsOldContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "file")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Write(filepath.Join(path, "child"), []byte("new"), 0o600)
	if err == nil || !strings.Contains(err.Error(), "file/child") {
		t.Errorf("Write under a regular file: %v, want an error naming the path", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("old file now %q", got)
	}
	// A path that is a directory cannot be replaced by a file: the rename fails, and the
	// temporary file is removed.
	sub := filepath.Join(dir, "sub")
	if err := os.MkdirAll(filepath.Join(sub, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(sub, []byte("new"), 0o600); err == nil {
		t.Error("Write over a non-empty directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
