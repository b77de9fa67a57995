package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The built binary, as the image holds it, serves and exits 0 on SIGTERM.
func TestBinaryServeStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/testhttp")
	}
	bin := filepath.Join(t.TempDir(), "testhttp")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "-listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.Contains(lines.Text(), "serving on 127.0.0.1:") {
		t.Fatalf("first line %q, want serving on 127.0.0.1:...", lines.Text())
	}
	addr := strings.Fields(strings.SplitN(lines.Text(), "serving on ", 2)[1])[0]
	var out strings.Builder
	if code := run(t.Context(), []string{"get", addr + "/healthz"}, &out, &out); code != 0 || out.String() != "ok\n" {
		t.Fatalf("get /healthz: status %d, %q", code, out.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for lines.Scan() {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("testhttp serve exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("testhttp serve did not exit after SIGTERM")
	}
}
