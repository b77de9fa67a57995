package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"metropolis.dev/metropolis/launch/netns"
	"metropolis.dev/metropolis/osbase/eventually"
)

// TestClearLeftoversKillsVMsOfAKilledRun leaves a network behind as a killed test run would:
// made with ip(8) in other processes, with a process named like QEMU still in one of its
// namespaces. clearLeftovers kills that process and removes the network.
func TestClearLeftoversKillsVMsOfAKilledRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a bridge and a network namespace")
	}
	// ip(8) is one of scripts/deps' packages: hosted nodes start with `ip netns exec`.
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("no ip(8) (Debian package iproute2, installed by scripts/deps): %v", err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	name := "t" + hex.EncodeToString(b)
	t.Cleanup(func() { _ = netns.DestroyByName(name) })
	ns := "mp-" + name + "-1"
	for _, args := range [][]string{
		{"link", "add", "mp-" + name, "type", "bridge"},
		{"netns", "add", ns},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	// A copy of sleep whose command name is the one QEMU's has.
	fakeQEMU := filepath.Join(t.TempDir(), "qemu-system-x86_64")
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("no sleep(1) (coreutils): %v", err)
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fakeQEMU, data, 0o755); err != nil {
		t.Fatal(err)
	}
	vm := exec.Command("ip", "netns", "exec", ns, fakeQEMU, "600")
	if err := vm.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = vm.Wait(); close(exited) }()
	t.Cleanup(func() { _ = vm.Process.Kill(); <-exited })
	// Until ip has entered the namespace, the network is unused, and clearLeftovers would just
	// remove it.
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	eventually.Pass(t, 10*time.Second, "the fake VM runs in "+ns, func(context.Context) error {
		if got, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", vm.Process.Pid)); err != nil || got == own {
			return fmt.Errorf("its network namespace is %q (%v), the host's", got, err)
		}
		return nil
	})

	clearLeftovers(t, name)

	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the fake VM still runs 10 s after clearLeftovers")
	}
	if removed, err := netns.RemoveLeftovers(name); err != nil || len(removed) > 0 {
		t.Errorf("after clearLeftovers, RemoveLeftovers: %q, %v; want nothing left", removed, err)
	}
}
