package qemu

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	apb "metropolis.dev/metropolis/api/v1"
)

// TestFirmwareBoot starts two VMs from an empty disk image: OVMF comes up with its TPM and
// network card, finds nothing to boot and says so on the serial console. That proves the
// wiring (firmware, swtpm, tap on the bridge, fw_cfg, console log, QMP) without a node image;
// booting the image is tested where it is built. Then it checks restart, kill and Destroy,
// which must leave no process, tap or bridge behind.
func TestFirmwareBoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a bridge and tap devices")
	}
	dir := t.TempDir()
	image := filepath.Join(dir, "empty.img")
	if err := os.WriteFile(image, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	name := fmt.Sprintf("qt%d", os.Getpid()%100000)
	c, err := Create(ctx, Options{
		Name: name, Nodes: 2, Image: image, Dir: filepath.Join(dir, "cluster"),
		MemoryMiB: 256, CPUs: 1, DiskSize: 64 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			c.Destroy()
		}
	})
	// Parameters reach the VM through fw_cfg; QEMU refuses to start if it cannot read them.
	if err := c.writeParameters(1, &apb.NodeParameters{Cluster: &apb.NodeParameters_ClusterBootstrap{
		ClusterBootstrap: &apb.ClusterBootstrap{OwnerPublicKey: make(ed25519.PublicKey, ed25519.PublicKeySize)},
	}}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		if err := c.StartNode(i); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 2; i++ {
		waitForConsole(t, c, i, 1)
		tap, err := netlink.LinkByName(c.TapName(i))
		if err != nil {
			t.Fatalf("node %d: tap: %v", i, err)
		}
		br, err := netlink.LinkByName("mp-" + name)
		if err != nil {
			t.Fatal(err)
		}
		if tap.Attrs().MasterIndex != br.Attrs().Index {
			t.Errorf("node %d: tap %s is not on bridge %s", i, c.TapName(i), br.Attrs().Name)
		}
		// swtpm writes its state once the firmware has initialized the TPM.
		if entries, err := os.ReadDir(c.TPMStateDir(i)); err != nil || len(entries) == 0 {
			t.Errorf("node %d: TPM state dir %s is empty (%v): the firmware never talked to the TPM", i, c.TPMStateDir(i), err)
		}
	}
	if _, err := os.Stat(filepath.Join(c.NodeDir(1), "disk.qcow2")); err != nil {
		t.Errorf("node 1 has no disk overlay: %v", err)
	}

	// A clean stop ends QEMU and, with it, swtpm; a new start appends to the console.
	swtpmPID, _ := readPID(c.path(1, "swtpm.pid"))
	if err := c.KillNode(1, false); err != nil {
		t.Fatal(err)
	}
	if c.NodeRunning(1) || processAlive(swtpmPID) {
		t.Fatalf("node 1: VM running %v, swtpm %d alive %v after KillNode", c.NodeRunning(1), swtpmPID, processAlive(swtpmPID))
	}
	if err := c.StartNode(1); err != nil {
		t.Fatal(err)
	}
	waitForConsole(t, c, 1, 2)

	// The firmware ignores the power button, so ShutdownNode ends the VM when its time is up.
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	err = c.ShutdownNode(sctx, 1)
	scancel()
	if err != nil || c.NodeRunning(1) {
		t.Fatalf("ShutdownNode: %v; running afterwards: %v", err, c.NodeRunning(1))
	}
	// A stopped node can be given another node's TPM.
	if err := c.SetNodeTPMState(1, c.TPMStateDir(2)); err != nil {
		t.Fatal(err)
	}
	if got := reload(t, c).TPMStateDir(1); got != filepath.Join(c.NodeDir(2), "tpm") {
		t.Fatalf("after reload: node 1's TPM state is %s, want node 2's", got)
	}

	// Node 2 boots another disk from now on; a running node refuses the change.
	if err := c.SetNodeDisk(2, image); err == nil {
		t.Errorf("SetNodeDisk on a running node succeeded")
	}
	if err := c.KillNode(2, true); err != nil {
		t.Fatal(err)
	}
	if err := c.SetNodeDisk(2, image); err != nil {
		t.Fatal(err)
	}
	if got := reload(t, c).DiskPath(2); got != image {
		t.Fatalf("after reload: node 2's disk is %s, want %s", got, image)
	}

	var pids []int
	for i := 1; i <= 2; i++ {
		for _, f := range []string{"qemu.pid", "swtpm.pid"} {
			if pid, err := readPID(c.path(i, f)); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	if err := reload(t, c).Destroy(); err != nil {
		t.Fatal(err)
	}
	destroyed = true
	for _, pid := range pids {
		if processAlive(pid) {
			t.Errorf("process %d still runs after Destroy", pid)
		}
	}
	for _, l := range []string{"mp-" + name, c.TapName(1), c.TapName(2)} {
		if _, err := netlink.LinkByName(l); !errors.As(err, new(netlink.LinkNotFoundError)) {
			t.Errorf("link %s still exists after Destroy (%v)", l, err)
		}
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s still exists after Destroy", c.Dir)
	}
}

// waitForConsole waits until node i's console shows the firmware's boot manager (BdsDxe) at
// least boots times.
func waitForConsole(t *testing.T, c *Cluster, i, boots int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		data, _ := os.ReadFile(c.LogPath(i))
		if n := bytes.Count(data, []byte("BdsDxe: failed to load Boot0001")); n >= boots {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d: console shows no firmware boot %d within 2 min:\n%s", i, boots, tail(c.LogPath(i), 20))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// reload reads c's record back, as a later run of the launcher would.
func reload(t *testing.T, c *Cluster) *Cluster {
	t.Helper()
	loaded, err := Load(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}
