package worker

import (
	"os"
	"path/filepath"
	"testing"
)

// TestResidentMemory sums this test process's own resident memory, found through its
// executable's directory, and reads the status lines strictly.
func TestResidentMemory(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	byProgram, total, err := residentMemory("/proc", filepath.Dir(exe))
	if err != nil {
		t.Fatal(err)
	}
	self := byProgram[filepath.Base(exe)]
	if self.total == 0 || self.anon == 0 || self.anon > self.total || total.total < self.total {
		t.Errorf("resident memory %+v (total %+v) does not include this process (%s)", byProgram, total, exe)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{
		"good": "Name:\tx\nVmRSS:\t  1024 kB\nRssAnon:\t 768 kB\nRssFile:\t 256 kB\n",
		"bad":  "VmRSS:\t1024 MB\nRssAnon:\t 768 kB\nRssFile:\t 256 kB\n",
		"none": "Name:\tx\nVmRSS:\t  1024 kB\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := resident{total: 1 << 20, anon: 768 << 10, file: 256 << 10}
	if got, err := readResident(filepath.Join(dir, "good")); err != nil || got != want {
		t.Errorf("readResident(good) = %+v, %v; want %+v", got, err, want)
	}
	for _, name := range []string{"bad", "none"} {
		if _, err := readResident(filepath.Join(dir, name)); err == nil {
			t.Errorf("readResident(%s) accepted a file without kB VmRSS, RssAnon and RssFile lines", name)
		}
	}
}
