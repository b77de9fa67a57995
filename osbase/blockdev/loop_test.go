package blockdev

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// attachLoop attaches an image as a loop device with partition scanning (losetup from
// util-linux), detaching it when the test ends.
func attachLoop(t *testing.T, image string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices")
	}
	out, err := exec.Command("losetup", "--find", "--show", "--partscan", image).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", dev, err, out)
		}
	})
	return dev
}

// announcePartitions tells the kernel about the image's partitions if its own scan did not find
// them: some hosts (the build machines' kernel) are built without GPT support
// (CONFIG_EFI_PARTITION), which the node's kernel has.
func announcePartitions(t *testing.T, dev string) {
	t.Helper()
	if _, err := os.Stat(dev + "p1"); err == nil {
		return
	}
	t.Logf("the kernel did not scan %s's GPT (no CONFIG_EFI_PARTITION?); adding its partitions with BLKPG", dev)
	g, err := ReadDisk(dev)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, e := range g.Partitions {
		if err := addKernelPartition(f, Partition{Entry: e, Disk: dev, SectorSize: g.SectorSize}); err != nil {
			t.Fatal(err)
		}
	}
}

func sysfsSectors(t *testing.T, dev string) uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/class/block", filepath.Base(dev), "size"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLoopFindAndAppend(t *testing.T) {
	image := makeImage(t, 32*mib)
	if err := os.Truncate(image, 64*mib); err != nil {
		t.Fatal(err)
	}
	dev := attachLoop(t, image)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	announcePartitions(t, dev)

	sys, err := Find(ctx, Query{Type: testTypeSystem, Name: testNameSystem, Disks: []string{dev}})
	if err != nil {
		t.Fatal(err)
	}
	if sys.Path != dev+"p2" || sysfsSectors(t, sys.Path) != sys.Sectors() {
		t.Fatalf("found %s of %d sectors; kernel has %d", sys.Path, sys.Sectors(), sysfsSectors(t, sys.Path))
	}

	data, err := AppendPartition(ctx, dev, testTypeData, testNameData, 32*mib)
	if err != nil {
		t.Fatal(err)
	}
	if data.Path != dev+"p3" {
		t.Fatalf("data partition at %s, want %sp3", data.Path, dev)
	}
	// The kernel sees the partition we wrote, and a second append finds no room.
	if got := sysfsSectors(t, data.Path); got != data.Sectors() || data.Bytes() != 50*mib {
		t.Fatalf("kernel has %s at %d sectors, table %d (%d bytes)", data.Path, got, data.Sectors(), data.Bytes())
	}
	again, err := Find(ctx, Query{Type: testTypeData, Name: testNameData, Disks: []string{dev}})
	if err != nil || again.Path != data.Path {
		t.Fatalf("Find(data) = %v, %v", again.Path, err)
	}
	if _, err := AppendPartition(ctx, dev, testTypeData, testNameData, 0); err == nil || !strings.Contains(err.Error(), "already has partition 3") {
		t.Fatalf("second AppendPartition: %v", err)
	}
}
