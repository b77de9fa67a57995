package curator

import (
	"sync"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
)

// nodeHealth judges a node from its heartbeats as the leader saw them: lastBeat is the last
// one's arrival (beaten says whether there was any since this leader took over, at
// leaderSince). A node that is not UP is not expected to beat. A leader that took over less
// than timeout ago cannot tell a silent node from one still reconnecting, so it says UNKNOWN.
func nodeHealth(state apb.NodeState, lastBeat time.Time, beaten bool, leaderSince, now time.Time, timeout time.Duration) apb.NodeHealth {
	if state != apb.NodeState_NODE_STATE_UP {
		return apb.NodeHealth_NODE_HEALTH_UNKNOWN
	}
	if beaten {
		if now.Sub(lastBeat) <= timeout {
			return apb.NodeHealth_NODE_HEALTH_HEALTHY
		}
		return apb.NodeHealth_NODE_HEALTH_HEARTBEAT_TIMEOUT
	}
	if now.Sub(leaderSince) <= timeout {
		return apb.NodeHealth_NODE_HEALTH_UNKNOWN
	}
	return apb.NodeHealth_NODE_HEALTH_HEARTBEAT_TIMEOUT
}

// heartbeats keeps the arrival time of each node's last heartbeat, on the leader, in memory
// (see the package documentation for why not in etcd).
type heartbeats struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func newHeartbeats() *heartbeats { return &heartbeats{last: make(map[string]time.Time)} }

func (h *heartbeats) beat(nodeID string, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last[nodeID] = at
}

func (h *heartbeats) lastBeat(nodeID string) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.last[nodeID]
	return t, ok
}
