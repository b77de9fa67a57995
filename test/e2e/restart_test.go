package e2e

import (
	"context"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/osbase/eventually"
)

// TestRestartAllNodes: a cluster whose every node crashed at once comes back when they are
// started again, with all its state: the same nodes, labels and roles, and the owner's
// certificate (and metroctl's context) still work.
func TestRestartAllNodes(t *testing.T) {
	c := launchCluster(t, "rest", 3)
	c.waitForVoters(t, 1, time.Minute)
	ctx := callContext(t)
	writeTestState(t, ctx, c)
	checkWorkerRefused(t, c, c.Nodes())
	want, err := c.snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, err := c.mgmt.GetClusterInfo(ctx, &apb.GetClusterInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}

	for i := 1; i <= c.Nodes(); i++ {
		if err := c.KillNode(i, true); err != nil {
			t.Fatal(err)
		}
	}
	t.Log("killed every node with SIGKILL; starting them again")
	restarted := time.Now()
	for i := 1; i <= c.Nodes(); i++ {
		if err := c.StartNode(i); err != nil {
			t.Fatal(err)
		}
	}
	d := eventually.Pass(t, 2*time.Minute, "every node to be UP, healthy and running a curator again", attempt(func(ctx context.Context) error {
		nodes, err := listNodes(ctx, c.mgmt)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if err := checkUpAndHealthy(n); err != nil {
				return err
			}
			if err := checkRunsCuratorSince(n, restarted); err != nil {
				return err
			}
		}
		return nil
	}))
	t.Logf("the cluster was back %.1fs after its nodes were started again", d.Seconds())

	t.Run("every node keeps its identity, labels and roles", func(t *testing.T) {
		got, err := c.snapshot(callContext(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := diffSnapshots(want, got); err != nil {
			t.Error(err)
		}
	})

	t.Run("metroctl's context still works", func(t *testing.T) {
		ctx := callContext(t)
		mctx, err := c.store.LoadContext(c.Name)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := connect.Cluster(ctx, mctx)
		if err != nil {
			t.Fatalf("connect as the owner: %v", err)
		}
		defer conn.Close()
		after, err := apb.NewManagementClient(conn).GetClusterInfo(ctx, &apb.GetClusterInfoRequest{})
		if err != nil {
			t.Fatalf("get cluster info with the owner certificate: %v", err)
		}
		if after.ClusterId != before.ClusterId || !c.ca.Equal(mustParseDER(t, after.CaCertificate)) {
			t.Errorf("after the restart the cluster is %q with another CA, want %q with the pinned CA", after.ClusterId, before.ClusterId)
		}
	})

	c.waitForVoters(t, 1, time.Minute)
}
