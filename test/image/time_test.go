package image

import (
	"context"
	"strings"
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

// testClockOff: node num is restarted with its hardware clock offset behind the host's, as a
// machine with a dead RTC battery or a wrong timezone would start. Its time keeping must step
// the clock at its first answer (saying so loudly in its log), rejoin the cluster, and be
// within 100 ms of the reference at a later poll, as the other nodes are.
func testClockOff(t *testing.T, c *testenv.VMCluster, num int, offset time.Duration) {
	if err := c.KillNode(num, false); err != nil {
		t.Fatal(err)
	}
	if err := c.SetNodeClockOffset(num, offset); err != nil {
		t.Fatal(err)
	}
	// The offset stays for the node's later starts (it can only change while the node is
	// stopped): each of them steps the clock again, as this one does.
	console := c.LogPath(num)
	steps := strings.Count(readFile(t, console), "more than 10s): stepped")
	if err := c.StartNode(num); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	waitForConsole(t, console, "more than 10s): stepped", steps+1, bootTimeout)
	t.Logf("node %d started %v off; stepped %.0fs after its start", num, offset, time.Since(started).Seconds())
	testOneClock(t, c)
}
