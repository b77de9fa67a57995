package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/curator"
	"metropolis.dev/metropolis/osbase/eventually"
)

const (
	// earliestTimeout is the soonest a cut-off node may be reported HEARTBEAT_TIMEOUT: its last
	// heartbeat may have arrived up to one interval before the cut.
	earliestTimeout = curator.DefaultHeartbeatTimeout - curator.HeartbeatInterval
	// latestTimeout is the latest it must be: the heartbeat timeout, and generous slack for a
	// loaded machine.
	latestTimeout = 40 * time.Second
)

// TestNetworkPartition: a node cut off from the network is reported HEARTBEAT_TIMEOUT once it
// has missed its heartbeats, not before, while the rest of the cluster keeps working; once
// connected again it is reported HEALTHY.
func TestNetworkPartition(t *testing.T) {
	c := launchCluster(t, "part", 3)
	c.waitForVoters(t, 1, time.Minute)

	// Cut off a node that does not lead, so that the management API keeps its leader; the
	// two others keep etcd's quorum.
	var victim int
	eventually.Pass(t, 30*time.Second, "the curators to name a leader", attempt(func(ctx context.Context) error {
		leader, err := c.leader(ctx)
		if err != nil {
			return err
		}
		victim = c.Nodes()
		if victim == leader {
			victim--
		}
		return nil
	}))
	t.Logf("cutting node %d (%s) off the network", victim, c.ids[victim-1])
	if err := c.SetNodeLink(victim, false); err != nil {
		t.Fatal(err)
	}
	d := eventually.Pass(t, latestTimeout, fmt.Sprintf("node %d to be reported HEARTBEAT_TIMEOUT", victim), attempt(func(ctx context.Context) error {
		return c.checkHealth(ctx, victim, apb.NodeHealth_NODE_HEALTH_HEARTBEAT_TIMEOUT)
	}))
	t.Logf("node %d was reported HEARTBEAT_TIMEOUT %.1fs after the cut", victim, d.Seconds())
	if d < earliestTimeout {
		t.Errorf("node %d was reported HEARTBEAT_TIMEOUT %.1fs after the cut, before it could have missed its heartbeats (%v)", victim, d.Seconds(), earliestTimeout)
	}

	t.Run("the rest of the cluster keeps working", func(t *testing.T) {
		ctx := callContext(t)
		for i := 1; i <= c.Nodes(); i++ {
			if i == victim {
				continue
			}
			if err := c.checkHealth(ctx, i, apb.NodeHealth_NODE_HEALTH_HEALTHY); err != nil {
				t.Error(err)
			}
			label := map[string]string{"e2e/partition": "survived"}
			if _, err := c.mgmt.UpdateNodeLabels(ctx, &apb.UpdateNodeLabelsRequest{NodeId: c.ids[i-1], Upsert: label}); err != nil {
				t.Errorf("label node %d during the partition: %v", i, err)
			}
		}
	})

	t.Log("connecting it again")
	if err := c.SetNodeLink(victim, true); err != nil {
		t.Fatal(err)
	}
	d = eventually.Pass(t, time.Minute, fmt.Sprintf("node %d to be reported HEALTHY again", victim), attempt(func(ctx context.Context) error {
		return c.checkHealth(ctx, victim, apb.NodeHealth_NODE_HEALTH_HEALTHY)
	}))
	t.Logf("node %d was HEALTHY again %.1fs after it was connected", victim, d.Seconds())
}

// checkHealth says why node i is not UP with health want, or nil if it is.
func (c *testCluster) checkHealth(ctx context.Context, i int, want apb.NodeHealth) error {
	n, err := c.node(ctx, i)
	if err != nil {
		return err
	}
	if n.State != apb.NodeState_NODE_STATE_UP || n.Health != want {
		return fmt.Errorf("node %d is %v/%v, want UP/%v", i, n.State, n.Health, want)
	}
	return nil
}
