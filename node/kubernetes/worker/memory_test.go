package worker

import (
	"os"
	"path/filepath"
	"testing"
)

// TestResidentMemory sums this test process's own resident memory, found through its
// executable's directory, and reads VmRSS lines strictly.
func TestResidentMemory(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	byProgram, total, err := residentMemory("/proc", filepath.Dir(exe))
	if err != nil {
		t.Fatal(err)
	}
	if byProgram[filepath.Base(exe)] == 0 || total < byProgram[filepath.Base(exe)] {
		t.Errorf("resident memory %v (total %d) does not include this process (%s)", byProgram, total, exe)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{"good": "Name:\tx\nVmRSS:\t  1024 kB\n", "bad": "VmRSS:\t1024 MB\n", "none": "Name:\tx\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := vmRSS(filepath.Join(dir, "good")); err != nil || got != 1<<20 {
		t.Errorf("vmRSS(good) = %d, %v; want 1 MiB", got, err)
	}
	for _, name := range []string{"bad", "none"} {
		if _, err := vmRSS(filepath.Join(dir, name)); err == nil {
			t.Errorf("vmRSS(%s) accepted a file without a kB VmRSS line", name)
		}
	}
}
