package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/eventually"
)

// TestSecurity: who may call what, how requests that are wrong are refused, how a node gets
// in and how a deleted one stays out. One four-node cluster serves every case; of its nodes,
// three are consensus members and one holds no role, so it can be deleted for the cases about
// deleted nodes.
func TestSecurity(t *testing.T) {
	c := launchCluster(t, "sec", 4)

	t.Run("bad requests are refused with a precise code", func(t *testing.T) { testBadRequests(t, c) })
	t.Run("a wrong register ticket is refused", func(t *testing.T) { testWrongTicket(t, c) })
	t.Run("an unapproved node gets no certificate", func(t *testing.T) { testUnapprovedNode(t, c) })

	ctx := callContext(t)
	deleted, err := c.nodeWithoutRoles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = c.mgmt.DeleteNode(ctx, &apb.DeleteNodeRequest{NodeId: c.ids[deleted-1]}); err != nil {
		t.Fatalf("delete node %d, which holds no role: %v", deleted, err)
	}
	n, err := c.node(ctx, deleted)
	if err != nil {
		t.Fatal(err)
	}
	if n.State != apb.NodeState_NODE_STATE_DECOMMISSIONED {
		t.Fatalf("deleted node %d is %v, want DECOMMISSIONED", deleted, n.State)
	}

	t.Run("a deleted node says so in its own status", func(t *testing.T) {
		// The node learns it from its watch of itself, which gets the tombstone at once.
		eventually.Pass(t, time.Minute, fmt.Sprintf("deleted node %d's own status to say DECOMMISSIONED", deleted), attempt(func(ctx context.Context) error {
			st, err := c.nodeStatus(ctx, deleted)
			if err != nil {
				return err
			}
			if st.State != apb.NodeState_NODE_STATE_DECOMMISSIONED {
				return fmt.Errorf("it says %v", st.State)
			}
			return nil
		}))
	})
	t.Run("each kind of caller may call only what it is granted", func(t *testing.T) { testAuthorization(t, c, deleted) })
	t.Run("a deleted node cannot rejoin", func(t *testing.T) { testDeletedNodeStaysOut(t, c, deleted) })
	t.Run("metrics are served to metrics credentials only", func(t *testing.T) { testMetrics(t, c, deleted) })
}

// nodeWithoutRoles returns the number of a node that holds no role.
func (c *testCluster) nodeWithoutRoles(ctx context.Context) (int, error) {
	for i := 1; i <= c.Nodes(); i++ {
		n, err := c.node(ctx, i)
		if err != nil {
			return 0, err
		}
		if !n.Roles.GetConsensusMember() && !n.Roles.GetKubernetesController() && !n.Roles.GetKubernetesWorker() {
			return i, nil
		}
	}
	return 0, fmt.Errorf("every node of %v holds a role", c.ids)
}
