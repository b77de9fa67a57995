package qemu

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/metroctl/config"
)

// TestLaunchFailureShowsConsole launches a cluster from an empty disk: node 1's firmware finds
// nothing to boot, so its API never comes. The launch must say what it waited for, give up
// after its wait timeout, and show the end of node 1's console and where the whole of it is.
func TestLaunchFailureShowsConsole(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a bridge and tap devices")
	}
	dir := t.TempDir()
	image := filepath.Join(dir, "empty.img")
	if err := os.WriteFile(image, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	name := fmt.Sprintf("ql%d", os.Getpid()%100000)
	c, err := Launch(context.Background(), Options{
		Name: name, Nodes: 2, Image: image, Dir: filepath.Join(dir, "cluster"),
		Contexts:  config.NewStore(filepath.Join(dir, "metroctl")),
		MemoryMiB: 256, CPUs: 1, WaitTimeout: 20 * time.Second, Progress: &out,
	})
	if c != nil {
		defer func() {
			if err := c.Destroy(); err != nil {
				t.Error(err)
			}
		}()
	}
	t.Logf("launch output:\n%s", out.String())
	if err == nil {
		t.Fatal("launch from an empty disk succeeded")
	}
	for _, want := range []string{
		"node 1: gave up waiting for node 1's curator API",
		filepath.Join(dir, "cluster", "node*", "console.log"),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if c == nil {
		t.Fatal("Launch returned no cluster, so the VMs never started")
	}
	for _, want := range []string{
		"starting swtpm and VM for node 1",
		"still waiting for node 1's curator API",
		"node 1: last lines of its console (all of it in " + c.LogPath(1) + ")",
		"BdsDxe: failed to load Boot0001",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress does not say %q", want)
		}
	}
	if strings.Contains(out.String(), "starting swtpm and VM for node 2") {
		t.Errorf("node 2 was started although node 1 never came up")
	}
}
