package curator

import (
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestNodeHealth(t *testing.T) {
	const timeout = 15 * time.Second
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	longAgo := now.Add(-time.Hour)
	justNow := now.Add(-time.Second)
	for _, c := range []struct {
		name     string
		state    apb.NodeState
		lastBeat time.Time
		beaten   bool
		since    time.Time
		want     apb.NodeHealth
	}{
		{"a recent heartbeat is healthy", stUp, now.Add(-timeout), true, longAgo, apb.NodeHealth_NODE_HEALTH_HEALTHY},
		{"an old heartbeat has timed out", stUp, now.Add(-timeout - time.Millisecond), true, longAgo, apb.NodeHealth_NODE_HEALTH_HEARTBEAT_TIMEOUT},
		{"no heartbeat during a new leader's grace period is unknown", stUp, time.Time{}, false, justNow, apb.NodeHealth_NODE_HEALTH_UNKNOWN},
		{"no heartbeat after the grace period has timed out", stUp, time.Time{}, false, longAgo, apb.NodeHealth_NODE_HEALTH_HEARTBEAT_TIMEOUT},
		{"a NEW node is not expected to beat", stNew, time.Time{}, false, longAgo, apb.NodeHealth_NODE_HEALTH_UNKNOWN},
		{"a decommissioned node is not judged", stGone, justNow, true, longAgo, apb.NodeHealth_NODE_HEALTH_UNKNOWN},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := nodeHealth(c.state, c.lastBeat, c.beaten, c.since, now, timeout); got != c.want {
				t.Errorf("health = %v, want %v", got, c.want)
			}
		})
	}
}
