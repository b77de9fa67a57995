package tpmtest

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Start starts a software TPM 2.0 keeping its state in the directory state (absolute, as
// swtpm wants; a fresh directory gives a fresh TPM with new seeds) and returns a connection to
// its command socket and a function that stops it. A TPM started again on the same state is
// the same TPM after a reboot: same seeds, PCRs reset. It skips the test without swtpm.
func Start(t testing.TB, state string) (io.ReadWriteCloser, func()) {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		t.Skip("swtpm (Debian package swtpm) is not installed; these tests need a software TPM")
	}
	checkPath(t, state)
	dir := TempDir(t)
	server := filepath.Join(dir, "srv.sock")
	cmd := exec.Command(bin, "socket", "--tpm2",
		"--server", "type=unixio,path="+server,
		"--ctrl", "type=unixio,path="+filepath.Join(dir, "ctrl.sock"),
		"--tpmstate", "dir="+state,
		"--flags", "not-need-init,startup-clear")
	cmd.Stdout = testLog{t}
	cmd.Stderr = testLog{t}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start swtpm: %v", err)
	}
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)

	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("unix", server)
		if err == nil {
			t.Cleanup(func() { _ = conn.Close() })
			return conn, stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm did not open %s within 10s: %v", server, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testLog copies a child process's output into the test's log.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Logf("swtpm: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TempDir is a new directory for a TPM's state or sockets, removed after the test. Unlike
// t.TempDir, its path never holds a comma (from a subtest's name), which would cut swtpm's
// comma-separated option values short.
func TempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "swtpm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func checkPath(t testing.TB, path string) {
	t.Helper()
	if strings.Contains(path, ",") {
		t.Fatalf("swtpm cannot use %s: its options are comma-separated (use tpmtest.TempDir)", path)
	}
}
