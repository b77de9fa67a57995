package curator

import (
	"net"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/consensus"
)

// addStrayLearner does what a consensus_member grant to n that failed half-way leaves: the
// learner is in etcd (UpdateNodeRoles adds it first), the role is not in n's record.
func addStrayLearner(t *testing.T, c *testCluster, n *testNode) {
	t.Helper()
	url := "https://" + net.JoinHostPort(n.ip, strconv.Itoa(c.peerPort))
	if _, err := consensus.AddLearner(callCtx(t), c.etcd, n.id, url); err != nil {
		t.Fatalf("add a learner for %s: %v", n.id, err)
	}
	if got := unstartedLearners(t, c); got != 1 {
		t.Fatalf("%d unstarted learners after adding one", got)
	}
}

func unstartedLearners(t *testing.T, c *testCluster) int {
	t.Helper()
	list, err := c.etcd.MemberList(callCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, m := range list.Members {
		if m.IsLearner && m.Name == "" {
			count++
		}
	}
	return count
}

// TestDeleteNodeRemovesItsStrayLearner checks that a stray learner blocks every consensus
// grant, and that deleting its node removes it although the node's record holds no role.
func TestDeleteNodeRemovesItsStrayLearner(t *testing.T) {
	c := newTestCluster(t, 0) // the default grace: the leader leaves the learner alone here
	b := c.addNode("127.0.0.2")
	d := c.addNode("127.0.0.3")
	addStrayLearner(t, c, b)
	yes := true

	_, err := c.mgmt().UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: d.id, ConsensusMember: &yes})
	expectCode(t, "granting consensus_member while a stray learner is there", err, codes.FailedPrecondition, "another node is still joining")

	if _, err := c.mgmt().DeleteNode(callCtx(t), &apb.DeleteNodeRequest{NodeId: b.id}); err != nil {
		t.Fatalf("delete %s: %v", b.id, err)
	}
	if got := unstartedLearners(t, c); got != 0 {
		t.Fatalf("%d unstarted learners after deleting the node they were added for, want none", got)
	}
	if _, err := c.mgmt().UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: d.id, ConsensusMember: &yes}); err != nil {
		t.Fatalf("granting consensus_member once the stray learner is gone: %v", err)
	}
}

// TestLeaderRemovesOrphanedLearners checks that the leader removes a stray learner that no
// node accounts for once the grace period has passed, and leaves a granted node's learner.
func TestLeaderRemovesOrphanedLearners(t *testing.T) {
	const grace = 2 * time.Second
	c := newTestClusterWith(t, clusterOptions{orphanLearnerGrace: grace})
	b := c.addNode("127.0.0.2")
	addStrayLearner(t, c, b)

	deadline := time.Now().Add(callTimeout)
	for unstartedLearners(t, c) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the stray learner was still there %v after it was added (grace %v)", callTimeout, grace)
		}
		time.Sleep(200 * time.Millisecond)
	}

	yes := true
	if _, err := c.mgmt().UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: b.id, ConsensusMember: &yes}); err != nil {
		t.Fatalf("grant consensus_member to %s: %v", b.id, err)
	}
	// Nothing announces that the leader decided to keep a learner, so watch it across several
	// grace periods and promoter rounds: a wrong decision would remove it within one round.
	for end := time.Now().Add(3*grace + 2*promoteInterval); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if got := unstartedLearners(t, c); got != 1 {
			t.Fatalf("%d unstarted learners after granting %s the role, want its learner kept", got, b.id)
		}
	}
}
