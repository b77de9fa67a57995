package image

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// clusterTestEnv turns on TestThreeNodes, which takes several minutes under TCG on top of the
// one-node test; CI runs it (see scripts/test), and so can anyone:
//
//	METROPOLIS_TEST_VM_CLUSTER=1 go test -run TestThreeNodes -v ./test/image
const clusterTestEnv = "METROPOLIS_TEST_VM_CLUSTER"

// TestThreeNodes boots three VMs: node 1 bootstraps, 2 and 3 register, are approved and join
// (the launcher makes all three consensus members). Node 3 then loses its consensus role, and
// with it the escrowed cluster half of its storage key: a reboot unlocks its data only with
// the half the cluster gives back. Before that, the cluster rolls itself to release 2
// (testRollouts), and afterwards refuses a rollout with two consensus members. Once node 3 is
// deleted
// from the cluster, it cannot unlock its data any more, and says why.
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
	third, err := nodeAt(ctx, mgmt, c.Nodes[2].Address)
	if err != nil {
		t.Fatal(err)
	}
	console := c.LogPath(3)

	// Rollouts first, while all three nodes are consensus members.
	testRollouts(t, c)

	t.Run("a worker's reboot unlocks its data through the cluster", func(t *testing.T) {
		// The launcher made all three consensus members; node 3 stops being one, and with that
		// stops keeping the cluster half of its storage key.
		no := false
		if _, err := mgmt.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: third.Id, ConsensusMember: &no}); err != nil {
			t.Fatalf("remove ConsensusMember from node 3: %v", err)
		}
		waitForConsole(t, console, "the storage key's cluster half is no longer kept here", 1, bootTimeout)
		nconn, err := connect.Node(ctx, c.Context, third.Id, net.JoinHostPort(c.Nodes[2].Address, strconv.Itoa(int(ports.NodeManagement))))
		if err != nil {
			t.Fatal(err)
		}
		defer nconn.Close()
		if _, err := apb.NewNodeManagementClient(nconn).Reboot(ctx, &apb.RebootRequest{}); err != nil {
			t.Fatalf("reboot: %v", err)
		}
		waitForConsole(t, console, "for this node's half of the storage key", 1, bootTimeout)
		waitForConsole(t, console, "data storage unlocked", 1, bootTimeout)
		eventually.Pass(t, bootTimeout, "node 3 UP again", func(ctx context.Context) error {
			n, err := nodeAt(ctx, mgmt, c.Nodes[2].Address)
			if err != nil {
				return err
			}
			if n.Id != third.Id || n.State != apb.NodeState_NODE_STATE_UP || n.Health != apb.NodeHealth_NODE_HEALTH_HEALTHY {
				return fmt.Errorf("node at %s is %s %v/%v", c.Nodes[2].Address, n.Id, n.State, n.Health)
			}
			return nil
		})
	})

	t.Run("a rollout with two consensus members is refused without --force", func(t *testing.T) {
		_, err := startRollout(ctx, mgmt, []byte("never sent: the cluster refuses first"), nil)
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "2 consensus member(s)") {
			t.Fatalf("%v; want FailedPrecondition naming the two members", err)
		}
	})

	t.Run("a deleted node cannot unlock its data", func(t *testing.T) {
		if err := c.KillNode(3, false); err != nil {
			t.Fatal(err)
		}
		if _, err := mgmt.DeleteNode(ctx, &apb.DeleteNodeRequest{NodeId: third.Id}); err != nil {
			t.Fatalf("delete node 3: %v", err)
		}
		if err := c.StartNode(3); err != nil {
			t.Fatal(err)
		}
		waitForConsole(t, console, "metropolis-node: PID 1 starting", 3, bootTimeout)
		waitForConsole(t, console, "join cluster as "+third.Id, 1, bootTimeout)
		data, _ := os.ReadFile(console)
		boots := strings.Split(string(data), "metropolis-node: PID 1 starting")
		if last := boots[len(boots)-1]; strings.Contains(last, "data storage unlocked") {
			t.Fatalf("the deleted node unlocked its data:\n%s", tail(last, 30))
		}
	})
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
