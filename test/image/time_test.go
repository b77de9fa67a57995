package image

import (
	"context"
	"testing"
	"time"

	"metropolis.dev/metropolis/launch/grow"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// testOneClock: on real machines (VMs whose clocks start from their own hardware clocks), the
// lowest consensus member is the cluster's time reference and the others set their clocks by
// it: after a correction (a step at boot if they were far off), a later poll finds them within
// 100 ms of it, slewing.
func testOneClock(t *testing.T, c *testenv.VMCluster) {
	var report []string
	d := eventually.Pass(t, 5*time.Minute, "every node synced with the reference and within 100ms of it at a later poll", func(ctx context.Context) error {
		nodes, err := grow.ListNodes(ctx, c.Mgmt)
		if err != nil {
			return err
		}
		report, err = testenv.OneClock(nodes, func(a string) bool { return a == "slew" }, 100*time.Millisecond)
		return err
	})
	t.Logf("after %.0fs:", d.Seconds())
	for _, line := range report {
		t.Log(line)
	}
}
