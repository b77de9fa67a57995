package testenv

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"metropolis.dev/metropolis/launch/netns"
	"metropolis.dev/metropolis/osbase/eventually"
)

// leftoverPatience bounds the wait for killed VMs to let go of their network.
const leftoverPatience = 30 * time.Second

// clearLeftovers removes what a killed earlier run of the same test left under network name:
// the QEMU VMs still attached to it, which outlive the test process that started them, and then
// the network. A test's cluster name is fixed, so they can only be that run's; two runs of one
// test at once could not both have the name anyway. Any other process still using the network
// fails the test, naming it.
func clearLeftovers(t *testing.T, name string) {
	t.Helper()
	removed, err := netns.RemoveLeftovers(name)
	var inUse *netns.InUseError
	if errors.As(err, &inUse) {
		for _, p := range inUse.Users {
			if !strings.HasPrefix(p.Command, "qemu-system") {
				t.Fatalf("leftovers of an earlier run: %v; not a QEMU VM, so it is left alone", err)
			}
		}
		for _, p := range inUse.Users {
			t.Logf("leftovers of an earlier run: killing its VM, %s", p)
			if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				t.Fatalf("kill %s: %v", p, err)
			}
		}
		eventually.Pass(t, leftoverPatience, "the killed VMs let go of network "+name, func(context.Context) error {
			removed, err = netns.RemoveLeftovers(name)
			return err
		})
	} else if err != nil {
		t.Fatalf("leftovers of an earlier run: %v", err)
	}
	if len(removed) > 0 {
		t.Logf("leftovers of an earlier run removed: %s", strings.Join(removed, ", "))
	}
}
