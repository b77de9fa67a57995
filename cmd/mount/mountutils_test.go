package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	mountutils "k8s.io/mount-utils"
)

// TestRootMountUtils lets the kubelet's own mount library drive this binary through $PATH,
// as on a node: its start-up probe of umount, an emptyDir tmpfs, a subPath bind of an open
// directory (/proc/PID/fd/N with --no-canonicalize), a read-only bind, and cleanup.
func TestRootMountUtils(t *testing.T) {
	needRoot(t)
	bin := buildMount(t)
	t.Setenv("PATH", bin)
	m := mountutils.New("")

	if !m.CanSafelySkipMountPointCheck() {
		t.Errorf("mount-utils did not detect umount's \"not mounted\" answer; the kubelet would check mount points itself")
	}

	emptyDir := mountPoint(t)
	if err := m.MountSensitiveWithoutSystemd("tmpfs", emptyDir, "tmpfs", []string{"size=1m"}, nil); err != nil {
		t.Fatalf("emptyDir tmpfs: %v", err)
	}
	if info, ok := findMount(t, emptyDir); !ok || info.fsType != "tmpfs" || !hasOption(info.superOptions, "size=1024k") {
		t.Errorf("emptyDir mount: %+v (found %v); want tmpfs with size=1024k", info, ok)
	}

	volume := t.TempDir()
	if err := os.MkdirAll(filepath.Join(volume, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(volume, "sub", "f"), []byte("subpath"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub, err := os.Open(filepath.Join(volume, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	subPath := mountPoint(t)
	fdPath := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), sub.Fd())
	if err := m.MountSensitiveWithoutSystemdWithMountFlags(fdPath, subPath, "", []string{"bind"}, nil, []string{"--no-canonicalize"}); err != nil {
		t.Fatalf("subPath bind: %v", err)
	}
	if info, ok := findMount(t, subPath); !ok || filepath.Base(info.root) != "sub" {
		t.Errorf("subPath bind: %+v (found %v); want the directory sub bound, not the fd link", info, ok)
	}
	if got, err := os.ReadFile(filepath.Join(subPath, "f")); err != nil || string(got) != "subpath" {
		t.Errorf("reading through the subPath bind: %q, %v", got, err)
	}

	readOnly := mountPoint(t)
	if err := m.Mount(volume, readOnly, "", []string{"bind", "ro"}); err != nil {
		t.Fatalf("read-only bind: %v", err)
	}
	if info, ok := findMount(t, readOnly); !ok || !hasOption(info.mountOptions, "ro") {
		t.Errorf("read-only bind: %+v (found %v); want per-mount ro", info, ok)
	}

	for _, dir := range []string{emptyDir, subPath, readOnly} {
		if err := mountutils.CleanupMountPoint(dir, m, true); err != nil {
			t.Errorf("CleanupMountPoint(%s): %v", dir, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s still there after CleanupMountPoint: %v", dir, err)
		}
	}
	// With the probe passed, the kubelet takes "not mounted" as done.
	if err := m.Unmount(t.TempDir()); err != nil {
		t.Errorf("Unmount of a directory that is not mounted: %v; want nil", err)
	}
}
