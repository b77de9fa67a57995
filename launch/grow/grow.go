package grow

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/metroctl/connect"
)

// ConsensusMembers is how many nodes get ConsensusMember: three tolerate the loss of one.
const ConsensusMembers = 3

// Machines are a launcher's nodes, numbered from 1.
type Machines interface {
	// NodeCount is how many nodes the cluster has.
	NodeCount() int
	// StartToRegister gives node i (i ≥ 2) its parameters and starts it.
	StartToRegister(i int, params *apb.NodeParameters) error
	// CheckRunning returns an error if a node has died (Permanent, if it will not come back).
	CheckRunning() error
}

// Grow registers, approves and starts nodes 2..N, then makes the first consensus of them (0:
// ConsensusMembers) consensus members, one at a time, and waits for every node to be UP and
// healthy.
func Grow(ctx context.Context, mctx *config.Context, m Machines, consensus int, p *Progress) error {
	if consensus <= 0 {
		consensus = ConsensusMembers
	}
	conn, err := connect.Cluster(ctx, mctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	mgmt := apb.NewManagementClient(conn)

	if m.NodeCount() > 1 {
		ticket, err := WaitFor(ctx, p, "the curator leader to hand out a register ticket", func(ctx context.Context) (*apb.GetRegisterTicketResponse, error) {
			return mgmt.GetRegisterTicket(ctx, &apb.GetRegisterTicketRequest{})
		})
		if err != nil {
			return err
		}
		info, err := WaitFor(ctx, p, "the curator leader to tell the cluster's CA and addresses", func(ctx context.Context) (*apb.GetClusterInfoResponse, error) {
			return mgmt.GetClusterInfo(ctx, &apb.GetClusterInfoRequest{})
		})
		if err != nil {
			return err
		}
		for i := 2; i <= m.NodeCount(); i++ {
			if err := m.StartToRegister(i, &apb.NodeParameters{Cluster: &apb.NodeParameters_ClusterRegister{
				ClusterRegister: &apb.ClusterRegister{
					RegisterTicket:   ticket.Ticket,
					CaCertificate:    info.CaCertificate,
					ClusterAddresses: info.ClusterAddresses,
				},
			}}); err != nil {
				return err
			}
		}
		if err := approveAll(ctx, mgmt, m, p); err != nil {
			return err
		}
	}
	nodes, err := WaitFor(ctx, p, fmt.Sprintf("%d nodes to join: UP and healthy", m.NodeCount()), func(ctx context.Context) ([]*apb.Node, error) {
		if err := m.CheckRunning(); err != nil {
			return nil, err
		}
		return upAndHealthy(ctx, mgmt, m.NodeCount())
	})
	if err != nil {
		return err
	}
	p.Step("all %d nodes joined", len(nodes))
	return addConsensusMembers(ctx, mgmt, nodes, min(consensus, m.NodeCount()), p)
}

// addConsensusMembers gives ConsensusMember to nodes until want have it, one at a time: etcd
// takes one learner at a time, and the curator refuses a second until the first is promoted.
func addConsensusMembers(ctx context.Context, mgmt apb.ManagementClient, nodes []*apb.Node, want int, p *Progress) error {
	for _, n := range nodes {
		if n.Roles.GetConsensusMember() || countConsensus(nodes) >= want {
			continue
		}
		t := true
		if _, err := WaitFor(ctx, p, "the curator to make "+n.Id+" a consensus member", func(ctx context.Context) (bool, error) {
			_, err := mgmt.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: n.Id, ConsensusMember: &t})
			switch status.Code(err) {
			case codes.OK:
				return true, nil
			case codes.FailedPrecondition, codes.Unavailable, codes.DeadlineExceeded:
				return false, err // the previous learner is not promoted yet, or etcd settles
			}
			return false, Permanent(err)
		}); err != nil {
			return fmt.Errorf("add ConsensusMember to %s: %w", n.Id, err)
		}
		n.Roles = &apb.NodeRoles{ConsensusMember: true}
		if _, err := WaitFor(ctx, p, n.Id+" to run its etcd member and curator", func(ctx context.Context) (bool, error) {
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
func approveAll(ctx context.Context, mgmt apb.ManagementClient, m Machines, p *Progress) error {
	want := m.NodeCount() - 1
	approved := map[string]bool{}
	_, err := WaitFor(ctx, p, fmt.Sprintf("%d nodes to register", want), func(ctx context.Context) (bool, error) {
		if err := m.CheckRunning(); err != nil {
			return false, err
		}
		nodes, err := ListNodes(ctx, mgmt, apb.NodeState_NODE_STATE_NEW)
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
			p.Step("approved %s (%d of %d)", n.Id, len(approved), want)
		}
		if len(approved) < want {
			return false, fmt.Errorf("%d of %d registered", len(approved), want)
		}
		return true, nil
	})
	return err
}

// upAndHealthy returns the nodes if all count of them are UP and healthy, else an error saying
// which are not.
func upAndHealthy(ctx context.Context, mgmt apb.ManagementClient, count int) ([]*apb.Node, error) {
	nodes, err := ListNodes(ctx, mgmt)
	if err != nil {
		return nil, err
	}
	var waiting []string
	for _, n := range nodes {
		if n.State != apb.NodeState_NODE_STATE_UP || n.Health != apb.NodeHealth_NODE_HEALTH_HEALTHY {
			waiting = append(waiting, fmt.Sprintf("%s is %s/%s", n.Id, n.State, n.Health))
		}
	}
	if len(nodes) != count || len(waiting) > 0 {
		return nil, fmt.Errorf("%d of %d nodes known; %v", len(nodes), count, waiting)
	}
	return nodes, nil
}

// ListNodes reads the cluster's nodes in the given states (all if none).
func ListNodes(ctx context.Context, mgmt apb.ManagementClient, states ...apb.NodeState) ([]*apb.Node, error) {
	stream, err := mgmt.GetNodes(ctx, &apb.GetNodesRequest{States: states})
	if err != nil {
		return nil, err
	}
	var nodes []*apb.Node
	for {
		n, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nodes, nil
		}
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
}

// AddWorkers gives the KubernetesWorker role to the nodes at addresses (their external
// addresses), one by one. Giving a role a node already has changes nothing, so a launch that
// is run again after a failure may repeat it.
func AddWorkers(ctx context.Context, mctx *config.Context, addresses []string, p *Progress) error {
	if len(addresses) == 0 {
		return nil
	}
	conn, err := connect.Cluster(ctx, mctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	mgmt := apb.NewManagementClient(conn)
	nodes, err := WaitFor(ctx, p, "the list of nodes", func(ctx context.Context) ([]*apb.Node, error) {
		return ListNodes(ctx, mgmt)
	})
	if err != nil {
		return err
	}
	t := true
	for _, addr := range addresses {
		id := ""
		for _, n := range nodes {
			if n.GetStatus().GetExternalAddress() == addr {
				id = n.Id
			}
		}
		if id == "" {
			return fmt.Errorf("no node at %s to run pods", addr)
		}
		if _, err := WaitFor(ctx, p, "the curator to make "+id+" a Kubernetes worker", func(ctx context.Context) (bool, error) {
			_, err := mgmt.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: id, KubernetesWorker: &t})
			return err == nil, err
		}); err != nil {
			return err
		}
		p.Step("%s (%s) runs pods", id, addr)
	}
	return nil
}
