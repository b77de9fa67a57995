package loopdev_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/osbase/ext4fs"
	"metropolis.dev/metropolis/osbase/loopdev"
)

func needLoop(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loop devices need root")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skipf("no loop devices here: %v", err)
	}
}

// hasCapSysResource tells whether this process may resize file systems.
func hasCapSysResource(t *testing.T) bool {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps&(1<<unix.CAP_SYS_RESOURCE) != 0
		}
	}
	t.Fatal("no CapEff line in /proc/self/status")
	return false
}

// A file formatted as ext4, attached, mounted and written to; grown while mounted (file,
// loop device, then file system); found by its path; detached.
func TestAttachMountGrowDetach(t *testing.T) {
	needLoop(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "volume.img")
	const small, big = 64 << 20, 128 << 20
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, small); err != nil {
		t.Fatal(err)
	}
	if err := ext4fs.Format(img, small, ext4fs.Params{Label: "test"}); err != nil {
		t.Fatal(err)
	}
	dev, err := loopdev.Attach(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = loopdev.Detach(dev) })
	found, err := loopdev.Find(img)
	if err != nil || len(found) != 1 || found[0] != dev {
		t.Fatalf("Find(%s) = %v, %v; want [%v]", img, found, err, dev)
	}
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dev.Path, mnt, "ext4", 0, ""); err != nil {
		t.Fatalf("mount %s: %v", dev.Path, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, 0) })

	// Writing past the volume's size fails with ENOSPC.
	data := bytes.Repeat([]byte{0x5a}, 1<<20)
	fill := func(name string, mib int) error {
		w, err := os.Create(filepath.Join(mnt, name))
		if err != nil {
			return err
		}
		defer w.Close()
		for i := 0; i < mib; i++ {
			if _, err := w.Write(data); err != nil {
				return err
			}
		}
		return w.Sync()
	}
	if err := fill("a", 80); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("writing 80 MiB into a 64 MiB volume: %v, want ENOSPC", err)
	}
	if err := os.Remove(filepath.Join(mnt, "a")); err != nil {
		t.Fatal(err)
	}

	// Grow while mounted: the file, then the device, then the file system. The kernel lets
	// only holders of CAP_SYS_RESOURCE resize (nodes do; some containers' root does not).
	if hasCapSysResource(t) {
		growMounted(t, f, dev, mnt, big, fill)
	} else {
		t.Log("no CAP_SYS_RESOURCE here: online growth is left to the VM tests")
		if err := ext4fs.Grow(mnt, small); !errors.Is(err, unix.EPERM) {
			t.Fatalf("Grow without CAP_SYS_RESOURCE: %v, want EPERM", err)
		}
	}

	if err := unix.Unmount(mnt, 0); err != nil {
		t.Fatal(err)
	}
	if err := loopdev.Detach(dev); err != nil {
		t.Fatal(err)
	}
	if found, err := loopdev.Find(img); err != nil || len(found) != 0 {
		t.Fatalf("after Detach, Find = %v, %v; want none", found, err)
	}
}

func TestAttachMissingFile(t *testing.T) {
	needLoop(t)
	_, err := loopdev.Attach(filepath.Join(t.TempDir(), "absent"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Attach(absent) = %v, want a not-exist error", err)
	}
}

func growMounted(t *testing.T, f *os.File, dev loopdev.Device, mnt string, big int64, fill func(string, int) error) {
	if err := unix.Fallocate(int(f.Fd()), 0, 0, big); err != nil {
		t.Fatal(err)
	}
	if err := loopdev.Grow(dev); err != nil {
		t.Fatal(err)
	}
	if err := ext4fs.Grow(mnt, big); err != nil {
		t.Fatal(err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	if total := int64(st.Blocks) * st.Bsize; total < 120<<20 {
		t.Fatalf("after growing to 128 MiB the file system has %d bytes", total)
	}
	if err := fill("a", 80); err != nil {
		t.Fatalf("writing 80 MiB after growing to 128 MiB: %v", err)
	}
}
