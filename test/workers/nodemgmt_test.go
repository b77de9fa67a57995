package workers

import (
	"context"
	"net"
	"strconv"
	"testing"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/test/testenv"
)

// nodeManagement dials a node's management API as the owner, at the address the cluster
// knows for it; the connection closes when the test ends.
func nodeManagement(ctx context.Context, t *testing.T, c *testenv.VMCluster, id string) apb.NodeManagementClient {
	t.Helper()
	n, err := c.Mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := connect.Node(ctx, c.Context, id, net.JoinHostPort(n.GetStatus().GetExternalAddress(), strconv.Itoa(int(ports.NodeManagement))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return apb.NewNodeManagementClient(conn)
}
