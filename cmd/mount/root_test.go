package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// These tests mount for real (root), through the built binary started as "mount" and as
// "umount" by symlinks, as on the node image.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts tmpfs and bind mounts")
	}
}

// built is the directory holding the binary built once for all tests of a run.
var built struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildMount builds this command (once per test run) into a temporary directory as "mount"
// with an "umount" symlink beside it, as on the image, and returns the directory.
func buildMount(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "mount-test-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "mount"), ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		built.err = os.Symlink("mount", filepath.Join(dir, "umount"))
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

// runBin runs bin/name with args and returns its combined output and exit code.
func runBin(t *testing.T, bin, name string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(filepath.Join(bin, name), args...).CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exitErr):
		return string(out), exitErr.ExitCode()
	}
	t.Fatalf("%s %q: %v", name, args, err)
	return "", 0
}

// mustRun runs bin/name and fails the test unless it exits 0.
func mustRun(t *testing.T, bin, name string, args ...string) {
	t.Helper()
	if out, code := runBin(t, bin, name, args...); code != 0 {
		t.Fatalf("%s %q: exit %d: %s", name, args, code, out)
	}
}

// mountInfo is one line of /proc/self/mountinfo.
type mountInfo struct {
	root, mountOptions, fsType, source, superOptions string
}

// findMount returns the topmost mount at target, if any.
func findMount(t *testing.T, target string) (mountInfo, bool) {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var found mountInfo
	ok := false
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		before, after, _ := strings.Cut(scanner.Text(), " - ")
		fields, tail := strings.Fields(before), strings.Fields(after)
		if len(fields) < 6 || len(tail) < 3 || fields[4] != target {
			continue
		}
		found, ok = mountInfo{root: fields[3], mountOptions: fields[5], fsType: tail[0], source: tail[1], superOptions: tail[2]}, true
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return found, ok
}

// hasOption says whether a comma-separated mountinfo options field holds option.
func hasOption(options, option string) bool {
	for _, o := range strings.Split(options, ",") {
		if o == option {
			return true
		}
	}
	return false
}

// mountPoint makes a directory and unmounts whatever is left on it when the test ends
// (before the temporary directory is removed).
func mountPoint(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for unix.Unmount(dir, unix.MNT_DETACH) == nil {
		}
	})
	return dir
}

func TestRootTmpfs(t *testing.T) {
	needRoot(t)
	bin := buildMount(t)
	target := mountPoint(t)

	mustRun(t, bin, "mount", "-t", "tmpfs", "-o", "size=1m,mode=0750,nosuid,nodev", "tmpfs", target)
	m, ok := findMount(t, target)
	if !ok {
		t.Fatalf("no mount at %s after mount", target)
	}
	if m.fsType != "tmpfs" || !hasOption(m.superOptions, "size=1024k") || !hasOption(m.superOptions, "mode=750") ||
		!hasOption(m.mountOptions, "nosuid") || !hasOption(m.mountOptions, "nodev") {
		t.Errorf("mount at %s: %+v; want tmpfs, size=1024k, mode=750, nosuid, nodev", target, m)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("mounted tmpfs root: %v, %v; want mode 0750", fi.Mode(), err)
	}

	// The emptyDir resize form: a remount with a new size only.
	mustRun(t, bin, "mount", "-t", "tmpfs", "-o", "remount,size=2048k", "tmpfs", target)
	if m, _ := findMount(t, target); !hasOption(m.superOptions, "size=2048k") {
		t.Errorf("after remount: %+v, want size=2048k", m)
	}

	mustRun(t, bin, "umount", target)
	if m, ok := findMount(t, target); ok {
		t.Fatalf("still mounted at %s after umount: %+v", target, m)
	}
	// mount-utils learns from this answer that umount can be trusted.
	out, code := runBin(t, bin, "umount", target)
	if code != exitFailure || !strings.Contains(out, "not mounted") {
		t.Errorf("umount of an unmounted directory: exit %d, %q; want exit 32 saying \"not mounted\"", code, out)
	}
}

func TestRootReadOnlyBind(t *testing.T) {
	needRoot(t)
	bin := buildMount(t)
	source := t.TempDir()
	if err := os.WriteFile(filepath.Join(source, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		steps [][]string
	}{
		{"mount-utils two steps", [][]string{
			{"--no-canonicalize", "-o", "bind", source, "TARGET"},
			{"--no-canonicalize", "-o", "bind,remount,ro,nosuid", source, "TARGET"},
		}},
		{"one step", [][]string{{"-o", "bind,ro,nosuid", source, "TARGET"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := mountPoint(t)
			for _, step := range tc.steps {
				args := append([]string(nil), step...)
				args[len(args)-1] = target
				mustRun(t, bin, "mount", args...)
			}
			m, ok := findMount(t, target)
			if !ok || !hasOption(m.mountOptions, "ro") || !hasOption(m.mountOptions, "nosuid") {
				t.Fatalf("bind at %s: %+v (found %v); want per-mount ro,nosuid", target, m, ok)
			}
			if got, err := os.ReadFile(filepath.Join(target, "f")); err != nil || string(got) != "data" {
				t.Errorf("reading through the bind: %q, %v", got, err)
			}
			err := os.WriteFile(filepath.Join(target, "g"), nil, 0o644)
			if !errors.Is(err, unix.EROFS) {
				t.Errorf("writing through the read-only bind: %v, want EROFS", err)
			}
			// The source stays writable: only the bind is read-only.
			if err := os.WriteFile(filepath.Join(source, "g"), nil, 0o644); err != nil {
				t.Errorf("writing to the bind's source: %v", err)
			}
			mustRun(t, bin, "umount", "-l", target)
			if m, ok := findMount(t, target); ok {
				t.Errorf("still mounted at %s after umount -l: %+v", target, m)
			}
		})
	}
}

// TestRootFailedRemountUndoesBind checks that a bind is taken away when a later call of its
// plan fails, so a mount asked to be read-only never stays writable. No command line makes
// the kernel refuse the second call after accepting the bind, so this drives applyPlan with
// a second call the kernel always refuses (two propagation types at once).
func TestRootFailedRemountUndoesBind(t *testing.T) {
	needRoot(t)
	target := mountPoint(t)
	calls := []mountCall{
		{Source: t.TempDir(), Target: target, Flags: unix.MS_BIND},
		{Source: "none", Target: target, Flags: unix.MS_SHARED | unix.MS_PRIVATE},
	}
	err := applyPlan(calls)
	if err == nil || !strings.Contains(err.Error(), "was undone") {
		t.Fatalf("applyPlan with a failing second call: %v; want an error saying the bind was undone", err)
	}
	if m, ok := findMount(t, target); ok {
		t.Errorf("bind left at %s after a failed second step: %+v", target, m)
	}
}
