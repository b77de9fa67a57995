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

// failoverBudget is how long the management API may be unanswered after the curator leader
// crashed: the leader's etcd lease (curator.DefaultLeaseTTL) runs out, a new leader is elected
// and clients find it.
const failoverBudget = 15 * time.Second

// TestKillConsensusNode: when the curator leader crashes, the other two consensus members take
// over within failoverBudget, nothing the API had acknowledged is lost, and the crashed node,
// started again, rejoins as a healthy consensus member running a curator, after which every
// node is healthy.
func TestKillConsensusNode(t *testing.T) {
	c := launchCluster(t, "kill", 3)
	ctx := callContext(t)

	writeTestState(t, ctx, c)
	want, err := c.snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}

	c.waitForVoters(t, 1, time.Minute)
	var victim int
	eventually.Pass(t, 30*time.Second, "the curators to name a leader", attempt(func(ctx context.Context) (err error) {
		victim, err = c.leader(ctx)
		return err
	}))
	t.Logf("killing node %d (%s), the curator leader, with SIGKILL", victim, c.ids[victim-1])
	killed := time.Now()
	if err := c.KillNode(victim, true); err != nil {
		t.Fatal(err)
	}

	// One unary call, retried by the connection until a new leader answers or the budget ends.
	budget, cancel := context.WithDeadline(context.Background(), killed.Add(failoverBudget))
	_, err = c.mgmt.GetClusterInfo(budget, &apb.GetClusterInfoRequest{})
	cancel()
	if err != nil {
		t.Fatalf("the management API did not answer within %v of the leader's crash: %v", failoverBudget, err)
	}
	t.Logf("the management API answered again %.1fs after the leader's crash", time.Since(killed).Seconds())
	ctx = callContext(t)
	newLeader, err := c.leader(ctx)
	if err != nil || newLeader == victim {
		t.Fatalf("after the crash of node %d the leader is node %d (%v), want another node", victim, newLeader, err)
	}

	t.Run("nothing acknowledged is lost", func(t *testing.T) {
		ctx := callContext(t)
		got, err := c.snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := diffSnapshots(want, got); err != nil {
			t.Error(err)
		}
	})

	t.Run("the survivors heartbeat to the new leader", func(t *testing.T) {
		eventually.Pass(t, curator.DefaultHeartbeatTimeout+30*time.Second, "the surviving nodes to be healthy at the new leader", attempt(func(ctx context.Context) error {
			for i := 1; i <= c.Nodes(); i++ {
				if i == victim {
					continue
				}
				n, err := c.node(ctx, i)
				if err != nil {
					return err
				}
				if err := checkUpAndHealthy(n); err != nil {
					return err
				}
			}
			return nil
		}))
	})

	t.Run("the crashed node rejoins", func(t *testing.T) {
		restarted := time.Now()
		if err := c.StartNode(victim); err != nil {
			t.Fatal(err)
		}
		d := eventually.Pass(t, 90*time.Second, fmt.Sprintf("node %d to be UP, healthy and running a curator again", victim), attempt(func(ctx context.Context) error {
			n, err := c.node(ctx, victim)
			if err != nil {
				return err
			}
			if err := checkUpAndHealthy(n); err != nil {
				return err
			}
			return checkRunsCuratorSince(n, restarted)
		}))
		t.Logf("node %d was UP, healthy and running a curator %.1fs after its restart", victim, d.Seconds())

		ctx := callContext(t)
		st, err := c.nodeStatus(ctx, victim)
		if err != nil {
			t.Fatal(err)
		}
		if up := st.Uptime.AsDuration(); up > time.Since(restarted) {
			t.Errorf("node %d has been up for %v, longer than since its restart: not the restarted process", victim, up)
		}
		if state := runnableState(st, curatorDN); state != apb.RunnableState_RUNNABLE_STATE_HEALTHY {
			t.Errorf("node %d: runnable %s is %v, want HEALTHY", victim, curatorDN, state)
		}
		c.waitForVoters(t, victim, time.Minute)
		eventually.Pass(t, time.Minute, "every node to be UP and healthy", attempt(func(ctx context.Context) error {
			nodes, err := listNodes(ctx, c.mgmt)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				if err := checkUpAndHealthy(n); err != nil {
					return err
				}
			}
			return nil
		}))
	})
}
