package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// buildPause builds this command into a temporary directory, as the image holds it.
func buildPause(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pause")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startPause starts bin and waits for its ready line.
func startPause(t *testing.T, bin string, attr *syscall.SysProcAttr) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.SysProcAttr = attr
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil || !strings.Contains(line, "waiting for a signal") {
		t.Fatalf("pause did not say it is ready: %q, %v", line, err)
	}
	go func() { _, _ = bufio.NewReader(stderr).WriteTo(discard{}) }()
	return cmd
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestExitsOnSignal(t *testing.T) {
	bin := buildPause(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := startPause(t, bin, nil)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("pause exited with %v after %v, want status 0", err, sig)
			}
		})
	}
}

// As PID 1 of a new PID namespace, pause inherits orphans and must reap them.
func TestReapsOrphans(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a PID namespace")
	}
	bin := buildPause(t)
	pause := startPause(t, bin, &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID})

	// A shell in pause's namespace starts a sleep and exits: the sleep is orphaned to pause.
	if err := runInPIDNamespace(pause.Process.Pid, "/bin/sh", "-c", "sleep 0.3 & exit 0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	orphan := 0
	for orphan == 0 {
		if ctx.Err() != nil {
			t.Fatal("no orphan was reparented to pause")
		}
		orphan = childOf(t, pause.Process.Pid)
		time.Sleep(10 * time.Millisecond)
	}
	for {
		state, err := os.ReadFile("/proc/" + strconv.Itoa(orphan) + "/stat")
		if os.IsNotExist(err) {
			break // reaped
		}
		if ctx.Err() != nil {
			t.Fatalf("orphan %d was not reaped: %s", orphan, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := pause.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := pause.Wait(); err != nil {
		t.Fatalf("pause exited with %v, want status 0", err)
	}
}

// runInPIDNamespace runs a command whose children live in the PID namespace of pid.
func runInPIDNamespace(pid int, name string, args ...string) error {
	errs := make(chan error)
	go func() {
		// setns changes this thread only; it is never unlocked, so Go discards it after.
		runtime.LockOSThread()
		ns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/pid")
		if err != nil {
			errs <- err
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWPID); err != nil {
			errs <- err
			return
		}
		errs <- exec.Command(name, args...).Run()
	}()
	return <-errs
}

// childOf returns a process whose parent is pid, or 0.
func childOf(t *testing.T, pid int) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command name (in parentheses) are: state, ppid.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			return child
		}
	}
	return 0
}
