package qemu

import (
	"context"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/metroctl/connect"
)

// consensusMembers is how many nodes get ConsensusMember: three tolerate the loss of one.
const consensusMembers = 3

// growCluster registers, approves and starts nodes 2..N, then makes the first three consensus
// members, and waits for every node to be UP and healthy. It is the hosted launcher's sequence
// (launch/hosted), with VMs for processes.
func (c *Cluster) growCluster(ctx context.Context, mctx *config.Context, p *progress) error {
	conn, err := connect.Cluster(ctx, mctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	mgmt := apb.NewManagementClient(conn)

	if c.NodeCount() > 1 {
		ticket, err := mgmt.GetRegisterTicket(ctx, &apb.GetRegisterTicketRequest{})
		if err != nil {
			return fmt.Errorf("get register ticket: %w", err)
		}
		info, err := mgmt.GetClusterInfo(ctx, &apb.GetClusterInfoRequest{})
		if err != nil {
			return fmt.Errorf("get cluster info: %w", err)
		}
		for i := 2; i <= c.NodeCount(); i++ {
			if err := c.writeParameters(i, &apb.NodeParameters{Cluster: &apb.NodeParameters_ClusterRegister{
				ClusterRegister: &apb.ClusterRegister{
					RegisterTicket:   ticket.Ticket,
					CaCertificate:    info.CaCertificate,
					ClusterAddresses: info.ClusterAddresses,
				},
			}}); err != nil {
				return err
			}
			if err := c.startNode(p, i, "to register"); err != nil {
				return err
			}
		}
		if err := c.approveAll(ctx, mgmt, p); err != nil {
			return err
		}
	}
	nodes, err := waitForValue(ctx, p, fmt.Sprintf("%d nodes to join: UP and healthy", c.NodeCount()), func(ctx context.Context) ([]*apb.Node, error) {
		if err := c.checkAllRunning(); err != nil {
			return nil, err
		}
		return c.upAndHealthy(ctx, mgmt)
	})
	if err != nil {
		return err
	}
	p.step("all %d nodes joined", c.NodeCount())
	// One at a time: etcd takes one learner at a time, and the curator refuses a second
	// until the first is promoted.
	for _, n := range nodes {
		if n.Roles.GetConsensusMember() || countConsensus(nodes) >= min(consensusMembers, c.NodeCount()) {
			continue
		}
		t := true
		if _, err := waitForValue(ctx, p, "the curator to make "+n.Id+" a consensus member", func(ctx context.Context) (bool, error) {
			_, err := mgmt.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: n.Id, ConsensusMember: &t})
			switch status.Code(err) {
			case codes.FailedPrecondition, codes.Unavailable, codes.DeadlineExceeded:
				return false, err // the previous learner is not promoted yet, or etcd settles
			}
			if err != nil {
				return false, permanent{err}
			}
			return true, nil
		}); err != nil {
			return fmt.Errorf("add ConsensusMember to %s: %w", n.Id, err)
		}
		n.Roles = &apb.NodeRoles{ConsensusMember: true}
		if _, err := waitForValue(ctx, p, n.Id+" to run its etcd member and curator", func(ctx context.Context) (bool, error) {
			got, err := mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: n.Id})
			if err != nil {
				return false, err
			}
			if got.Status.GetRunningCurator() == nil {
				return false, fmt.Errorf("%s runs no curator yet", n.Id)
			}
			return true, nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// checkAllRunning fails for good, naming the first, if a node's VM has ended.
func (c *Cluster) checkAllRunning() error {
	for i := 1; i <= c.NodeCount(); i++ {
		if err := c.checkRunning(i); err != nil {
			return err
		}
	}
	return nil
}

func countConsensus(nodes []*apb.Node) int {
	n := 0
	for _, node := range nodes {
		if node.Roles.GetConsensusMember() {
			n++
		}
	}
	return n
}

// approveAll approves registered nodes until all nodes but the first have been approved.
func (c *Cluster) approveAll(ctx context.Context, mgmt apb.ManagementClient, p *progress) error {
	approved := map[string]bool{}
	_, err := waitForValue(ctx, p, fmt.Sprintf("%d nodes to register", c.NodeCount()-1), func(ctx context.Context) (bool, error) {
		if err := c.checkAllRunning(); err != nil {
			return false, err
		}
		nodes, err := listNodes(ctx, mgmt, apb.NodeState_NODE_STATE_NEW)
		if err != nil {
			return false, err
		}
		for _, n := range nodes {
			if approved[n.Id] {
				continue
			}
			if _, err := mgmt.ApproveNode(ctx, &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_NodeId{NodeId: n.Id}}); err != nil {
				return false, fmt.Errorf("approve %s: %w", n.Id, err)
			}
			approved[n.Id] = true
			p.step("approved %s (%d of %d)", n.Id, len(approved), c.NodeCount()-1)
		}
		if len(approved) < c.NodeCount()-1 {
			return false, fmt.Errorf("%d of %d registered", len(approved), c.NodeCount()-1)
		}
		return true, nil
	})
	return err
}

// upAndHealthy returns the nodes if all of them are UP and healthy, else an error saying which
// are not.
func (c *Cluster) upAndHealthy(ctx context.Context, mgmt apb.ManagementClient) ([]*apb.Node, error) {
	nodes, err := listNodes(ctx, mgmt)
	if err != nil {
		return nil, err
	}
	var waiting []string
	for _, n := range nodes {
		if n.State != apb.NodeState_NODE_STATE_UP || n.Health != apb.NodeHealth_NODE_HEALTH_HEALTHY {
			waiting = append(waiting, fmt.Sprintf("%s is %s/%s", n.Id, n.State, n.Health))
		}
	}
	if len(nodes) != c.NodeCount() || len(waiting) > 0 {
		return nil, fmt.Errorf("%d of %d nodes known; %v", len(nodes), c.NodeCount(), waiting)
	}
	return nodes, nil
}

func listNodes(ctx context.Context, mgmt apb.ManagementClient, states ...apb.NodeState) ([]*apb.Node, error) {
	stream, err := mgmt.GetNodes(ctx, &apb.GetNodesRequest{States: states})
	if err != nil {
		return nil, err
	}
	var nodes []*apb.Node
	for {
		n, err := stream.Recv()
		if err == io.EOF {
			return nodes, nil
		}
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
}
