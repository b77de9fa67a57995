package image

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/rpc"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// clusterTestEnv turns on TestThreeNodes, which takes several minutes under TCG on top of the
// one-node test; CI runs it (see scripts/test), and so can anyone:
//
//	METROPOLIS_TEST_VM_CLUSTER=1 go test -run TestThreeNodes -v ./test/image
const clusterTestEnv = "METROPOLIS_TEST_VM_CLUSTER"

// TestThreeNodes boots three VMs: node 1 bootstraps, 2 and 3 register, are approved and join
// (the launcher makes all three consensus members). The cluster then rolls itself to release 2
// (testRollouts). Afterwards the curator leader's node loses its consensus role, and with it
// the escrowed cluster half of its storage key: the leader hands its leadership over before
// its etcd member can go, and a reboot unlocks the node's data only with the half the cluster
// gives back. With two consensus members left, the cluster refuses a rollout. Once the node is
// deleted from the cluster, it cannot unlock its data any more, and says why.
func TestThreeNodes(t *testing.T) {
	suite.Require(t)
	if os.Getenv(clusterTestEnv) == "" {
		t.Skipf("set %s=1 to boot a three-VM cluster (several minutes under TCG)", clusterTestEnv)
	}
	ctx := context.Background()
	c := testenv.LaunchVMs(t, qemu.Options{
		Name: "imgthree", Nodes: 3, Image: built.ImagePath, WaitTimeout: 2 * bootTimeout,
	})
	mgmt := c.Mgmt

	t.Run("the three nodes follow one clock", func(t *testing.T) { testOneClock(t, c) })

	// Rollouts first, while all three nodes are consensus members.
	testRollouts(t, c)

	t.Run("a node started five minutes behind steps its clock and follows the others within 100 ms", func(t *testing.T) {
		// Neither the curator leader's node nor the time reference (the lowest address, which
		// serves its own clock and would take the cluster along).
		leader, _ := leaderNode(t, c)
		num := 0
		for i := range c.Nodes {
			if i+1 != leader && (num == 0 || net.ParseIP(c.Nodes[i].Address).To4()[3] > net.ParseIP(c.Nodes[num-1].Address).To4()[3]) {
				num = i + 1
			}
		}
		testClockOff(t, c, num, -5*time.Minute)
	})

	// The leader's node leaves: the hardest case, as its curator must hand the leadership over
	// first (its etcd client reaches only its own member, which stops serving once removed).
	num, leaving := leaderNode(t, c)
	console := c.LogPath(num)
	t.Logf("node %d (%s) leads the curator and leaves consensus", num, leaving.Id)

	t.Run("the leader's node leaves consensus, and its reboot unlocks its data through the cluster", func(t *testing.T) {
		no := false
		callCtx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		if _, err := mgmt.UpdateNodeRoles(callCtx, &apb.UpdateNodeRolesRequest{
			NodeId: leaving.Id, ConsensusMember: &no, KubernetesController: &no,
		}); err != nil {
			t.Fatalf("remove ConsensusMember from node %d: %v", num, err)
		}
		if now, err := rpc.CurrentLeader(callCtx, c.Conn); err != nil || now.NodeID == leaving.Id {
			t.Errorf("after node %d left consensus the leader is %q (%v), want another node", num, now.NodeID, err)
		}
		waitForConsole(t, console, "the storage key's cluster half is no longer kept here", 1, bootTimeout)
		nconn, err := connect.Node(callCtx, c.Context, leaving.Id, net.JoinHostPort(c.Nodes[num-1].Address, strconv.Itoa(int(ports.NodeManagement))))
		if err != nil {
			t.Fatal(err)
		}
		defer nconn.Close()
		// The console log goes on across boots: count what earlier boots printed.
		unlocks := strings.Count(readFile(t, console), "data storage unlocked")
		if _, err := apb.NewNodeManagementClient(nconn).Reboot(callCtx, &apb.RebootRequest{}); err != nil {
			t.Fatalf("reboot: %v", err)
		}
		waitForConsole(t, console, "for this node's half of the storage key", 1, bootTimeout)
		waitForConsole(t, console, "data storage unlocked", unlocks+1, bootTimeout)
		eventually.Pass(t, bootTimeout, fmt.Sprintf("node %d UP again", num), func(ctx context.Context) error {
			n, err := nodeAt(ctx, mgmt, c.Nodes[num-1].Address)
			if err != nil {
				return err
			}
			if n.Id != leaving.Id || n.State != apb.NodeState_NODE_STATE_UP || n.Health != apb.NodeHealth_NODE_HEALTH_HEALTHY {
				return fmt.Errorf("node at %s is %s %v/%v", c.Nodes[num-1].Address, n.Id, n.State, n.Health)
			}
			return nil
		})
	})

	t.Run("a rollout with two consensus members is refused without --force", func(t *testing.T) {
		callCtx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		_, err := startRollout(callCtx, mgmt, []byte("never sent: the cluster refuses first"), nil)
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "2 consensus member(s)") {
			t.Fatalf("%v; want FailedPrecondition naming the two members", err)
		}
	})

	t.Run("a deleted node cannot unlock its data", func(t *testing.T) {
		if err := c.KillNode(num, false); err != nil {
			t.Fatal(err)
		}
		callCtx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		if _, err := mgmt.DeleteNode(callCtx, &apb.DeleteNodeRequest{NodeId: leaving.Id, SkipSafetyChecks: true}); err != nil {
			t.Fatalf("delete node %d: %v", num, err)
		}
		boots := strings.Count(readFile(t, console), "metropolis-node: PID 1 starting")
		if err := c.StartNode(num); err != nil {
			t.Fatal(err)
		}
		waitForConsole(t, console, "metropolis-node: PID 1 starting", boots+1, bootTimeout)
		waitForConsole(t, console, "join cluster as "+leaving.Id, 1, bootTimeout)
		all := strings.Split(readFile(t, console), "metropolis-node: PID 1 starting")
		if last := all[len(all)-1]; strings.Contains(last, "data storage unlocked") {
			t.Fatalf("the deleted node unlocked its data:\n%s", tail(last, 30))
		}
	})
}

// callTimeout bounds one API call of these tests, retries to reach the leader included: a
// call that hangs fails the test with its name instead of waiting out the package timeout.
const callTimeout = 2 * time.Minute

// leaderNode returns the number (1-based) and record of the node whose curator leads.
func leaderNode(t *testing.T, c *testenv.VMCluster) (int, *apb.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	leader, err := rpc.CurrentLeader(ctx, c.Conn)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := listNodes(ctx, c.Mgmt)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Id != leader.NodeID {
			continue
		}
		for i, vm := range c.Nodes {
			if vm.Address == n.GetStatus().GetExternalAddress() {
				return i + 1, n
			}
		}
		t.Fatalf("the leader %s reports address %q, which no VM has", n.Id, n.GetStatus().GetExternalAddress())
	}
	t.Fatalf("the leader %s is not among the %d nodes", leader.NodeID, len(nodes))
	return 0, nil
}

// nodeAt returns the node whose status reports address.
func nodeAt(ctx context.Context, mgmt apb.ManagementClient, address string) (*apb.Node, error) {
	nodes, err := listNodes(ctx, mgmt)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if n.GetStatus().GetExternalAddress() == address {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no node reports address %s among %d", address, len(nodes))
}
