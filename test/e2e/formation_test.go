package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/eventually"
)

// curatorDN is the runnable that serves a consensus member's curator.
const curatorDN = "root.roleserve.consensus.curator"

// TestClusterFormation: three hosted nodes form a cluster in which every node is UP and
// healthy, every node is a consensus member running a curator, the curators agree on one
// leader, and etcd has all three as voters.
func TestClusterFormation(t *testing.T) {
	c := launchCluster(t, "form", 3)
	ctx := callContext(t)

	nodes, err := listNodes(ctx, c.mgmt)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 3 {
		t.Fatalf("the cluster lists %d nodes, want 3", len(nodes))
	}
	for _, n := range nodes {
		if err := checkUpAndHealthy(n); err != nil {
			t.Error(err)
		}
		if !n.Roles.GetConsensusMember() {
			t.Errorf("node %s roles {%v}, want consensus_member", n.Id, n.Roles)
		}
		if got := n.GetStatus().GetRunningCurator().GetPort(); got != int32(ports.Curator) {
			t.Errorf("node %s reports a curator on port %d, want %d", n.Id, got, ports.Curator)
		}
	}

	t.Run("the nodes follow one clock", func(t *testing.T) { testOneClock(t, c) })
	t.Run("a node follows its configuration", func(t *testing.T) { testNodeConfiguration(t, c) })
	t.Run("hosted nodes have no TPM: requiring attestation is refused, naming each", func(t *testing.T) { testAttestationRefused(t, c) })

	t.Run("cluster info lists every curator", func(t *testing.T) {
		info, err := c.mgmt.GetClusterInfo(ctx, &apb.GetClusterInfoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		want := c.curatorEndpoints()
		slices.Sort(want)
		if !slices.Equal(info.ClusterAddresses, want) {
			t.Errorf("cluster_addresses %v, want %v", info.ClusterAddresses, want)
		}
		if info.ClusterId == "" || !c.ca.Equal(mustParseDER(t, info.CaCertificate)) {
			t.Errorf("cluster info names cluster %q with another CA than the one metroctl pinned", info.ClusterId)
		}
	})

	t.Run("every node runs a healthy curator", func(t *testing.T) {
		for i := 1; i <= 3; i++ {
			st, err := c.nodeStatus(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if st.NodeId != c.ids[i-1] || !st.Roles.GetConsensusMember() {
				t.Errorf("node %d says it is %s with roles {%v}, want %s with consensus_member", i, st.NodeId, st.Roles, c.ids[i-1])
			}
			if state := runnableState(st, curatorDN); state != apb.RunnableState_RUNNABLE_STATE_HEALTHY {
				t.Errorf("node %d: runnable %s is %v, want HEALTHY", i, curatorDN, state)
			}
		}
	})

	t.Run("every curator names the same leader", func(t *testing.T) {
		leaders := map[string]bool{}
		for i := 1; i <= 3; i++ {
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			id, err := leaderAt(lctx, c, i)
			cancel()
			if err != nil {
				t.Fatalf("node %d: %v", i, err)
			}
			leaders[id] = true
		}
		if len(leaders) != 1 {
			t.Errorf("the curators name %d different leaders: %v", len(leaders), leaders)
		}
	})

	t.Run("etcd has three voting members", func(t *testing.T) {
		for i := 1; i <= 3; i++ {
			d := c.waitForVoters(t, i, time.Minute)
			t.Logf("node %d's etcd member listed three voters within %.1fs", i, d.Seconds())
		}
	})

	t.Run("every node's status names its etcd member and the one leader they follow", func(t *testing.T) {
		members, leaders := map[string]bool{}, map[string]bool{}
		eventually.Pass(t, time.Minute, "three members following one leader in their statuses", func(ctx context.Context) error {
			clear(members)
			clear(leaders)
			for i := 1; i <= 3; i++ {
				st, err := c.nodeStatus(ctx, i)
				if err != nil {
					return err
				}
				cs := st.GetConsensus()
				if cs.GetMemberId() == "" || cs.GetLeaderId() == "" || cs.GetError() != "" || cs.GetRaftTerm() == 0 {
					return fmt.Errorf("node %d: consensus %v, want its member, a leader and a term", i, cs)
				}
				members[cs.MemberId], leaders[cs.LeaderId] = true, true
			}
			if len(members) != 3 || len(leaders) != 1 {
				return fmt.Errorf("members %v following leaders %v, want three following one", members, leaders)
			}
			return nil
		})
		for leader := range leaders {
			if !members[leader] {
				t.Errorf("the leader %s is none of the members %v", leader, members)
			}
		}
		if st, err := c.nodeStatus(callContext(t), 1); err == nil && st.KubernetesNode != nil {
			t.Errorf("node 1 runs no Kubernetes worker, yet its status has a Kubernetes Node: %v", st.KubernetesNode)
		}
	})
}

// runnableState is the state of runnable dn in a node's status, or UNSPECIFIED if it has none.
func runnableState(st *apb.GetStatusResponse, dn string) apb.RunnableState {
	for _, r := range st.Runnables {
		if r.Dn == dn {
			return r.State
		}
	}
	return apb.RunnableState_RUNNABLE_STATE_UNSPECIFIED
}
