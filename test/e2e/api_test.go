package e2e

import (
	"context"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/grow"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/rpc"
)

// listNodes reads the whole node list.
func listNodes(ctx context.Context, mgmt apb.ManagementClient) ([]*apb.Node, error) {
	nodes, err := grow.ListNodes(ctx, mgmt)
	if err != nil {
		return nil, fmt.Errorf("get nodes: %w", err)
	}
	return nodes, nil
}

// node reads node i's record.
func (c *testCluster) node(ctx context.Context, i int) (*apb.Node, error) {
	n, err := c.mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: c.ids[i-1]})
	if err != nil {
		return nil, fmt.Errorf("get node %d (%s): %w", i, c.ids[i-1], err)
	}
	return n, nil
}

// checkUpAndHealthy says why node n is not UP and HEALTHY, or nil if it is.
func checkUpAndHealthy(n *apb.Node) error {
	if n.State != apb.NodeState_NODE_STATE_UP || n.Health != apb.NodeHealth_NODE_HEALTH_HEALTHY {
		return fmt.Errorf("node %s is %v/%v, want UP/HEALTHY", n.Id, n.State, n.Health)
	}
	return nil
}

// checkRunsCuratorSince says why node n has not reported a running curator in a status made
// after since, or nil if it has.
func checkRunsCuratorSince(n *apb.Node, since time.Time) error {
	st := n.GetStatus()
	if st.GetRunningCurator() == nil {
		return fmt.Errorf("node %s reports no running curator (status %v)", n.Id, st)
	}
	if at := st.GetTimestamp().AsTime(); at.Before(since) {
		return fmt.Errorf("node %s last reported at %v, before %v", n.Id, at.Format(time.StampMilli), since.Format(time.StampMilli))
	}
	return nil
}

// leader asks the curators which node leads, and returns its number.
func (c *testCluster) leader(ctx context.Context) (int, error) {
	conn, err := rpc.DialCluster(c.curatorEndpoints(), c.ca, nil)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	id, err := c.leaderNamedBy(ctx, apb.NewDiscoveryClient(conn))
	if err != nil {
		return 0, err
	}
	return c.indexOf(id), nil
}

// leaderAt asks node i's curator which node leads, and returns its ID.
func leaderAt(ctx context.Context, c *testCluster, i int) (string, error) {
	conn, err := rpc.DialNode(c.curatorEndpoint(i), c.ids[i-1], c.ca, nil)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return c.leaderNamedBy(ctx, apb.NewDiscoveryClient(conn))
}

// leaderNamedBy reads the first answer of a GetCurrentLeader stream and checks that it names
// one of the cluster's nodes at its own address.
func (c *testCluster) leaderNamedBy(ctx context.Context, d apb.DiscoveryClient) (string, error) {
	stream, err := d.GetCurrentLeader(ctx, &apb.GetCurrentLeaderRequest{})
	if err != nil {
		return "", fmt.Errorf("get current leader: %w", err)
	}
	res, err := stream.Recv()
	if err != nil {
		return "", fmt.Errorf("get current leader: %w", err)
	}
	i := c.indexOf(res.LeaderNodeId)
	if i == 0 {
		return "", fmt.Errorf("the leader %s is none of the cluster's nodes %v", res.LeaderNodeId, c.ids)
	}
	if res.LeaderAddress != c.curatorEndpoint(i) {
		return "", fmt.Errorf("the leader %s is said to be at %s, but node %d's curator is at %s", res.LeaderNodeId, res.LeaderAddress, i, c.curatorEndpoint(i))
	}
	return res.LeaderNodeId, nil
}

// nodeStatus asks node i itself for its status, as the owner.
func (c *testCluster) nodeStatus(ctx context.Context, i int) (*apb.GetStatusResponse, error) {
	conn, err := rpc.DialNode(c.managementEndpoint(i), c.ids[i-1], c.ca, c.owner)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	res, err := apb.NewNodeManagementClient(conn).GetStatus(ctx, &apb.GetStatusRequest{})
	if err != nil {
		return nil, fmt.Errorf("node %d: get status: %w", i, err)
	}
	return res, nil
}

// mustParseDER parses a DER certificate the cluster sent.
func mustParseDER(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	cert, err := pki.ParseCertificateDER(der)
	if err != nil {
		t.Fatalf("the cluster sent an unparseable certificate: %v", err)
	}
	return cert
}
