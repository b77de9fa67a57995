package e2e

import (
	"context"
	"testing"
	"time"

	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// testOneClock: with no outside time server, the consensus member with the lowest address is
// the cluster's time reference and serves its clock over NTP; the other nodes ask it and
// report how far off they are. Hosted nodes share this machine's clock, so they only measure
// ("measured") and must find themselves within 100 ms of it.
func testOneClock(t *testing.T, c *testCluster) {
	var report []string
	eventually.Pass(t, 2*time.Minute, "every node's clock reported: one reference, the others synced with it", func(ctx context.Context) error {
		nodes, err := listNodes(ctx, c.mgmt)
		if err != nil {
			return err
		}
		report, err = testenv.OneClock(nodes, func(a string) bool { return a == "measured" }, 100*time.Millisecond)
		return err
	})
	for _, line := range report {
		t.Log(line)
	}
}
