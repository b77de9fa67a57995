package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

// fakeManagement implements Management over fakeCluster's registry, with the state rules the
// real curator documents (approve only NEW/STANDBY/UP, delete refuses role holders).
type fakeManagement struct {
	apb.UnimplementedManagementServer
	f *fakeCluster
}

func (m fakeManagement) GetClusterInfo(ctx context.Context, _ *apb.GetClusterInfoRequest) (*apb.GetClusterInfoResponse, error) {
	if err := m.f.checkOwner(ctx); err != nil {
		return nil, err
	}
	return &apb.GetClusterInfoResponse{ClusterId: "fake-cluster", CaCertificate: m.f.ca.Certificate().Raw, ClusterAddresses: []string{m.f.address}}, nil
}

func (m fakeManagement) GetNodes(req *apb.GetNodesRequest, srv grpc.ServerStreamingServer[apb.Node]) error {
	if err := m.f.checkOwner(srv.Context()); err != nil {
		return err
	}
	m.f.record("GetNodes", req)
	m.f.mu.Lock()
	var nodes []*apb.Node
	for _, n := range m.f.nodes {
		if len(req.States) == 0 || slices.Contains(req.States, n.State) {
			nodes = append(nodes, proto.Clone(n).(*apb.Node))
		}
	}
	m.f.mu.Unlock()
	for _, n := range nodes {
		if err := srv.Send(n); err != nil {
			return err
		}
	}
	return nil
}

func (m fakeManagement) GetNode(ctx context.Context, req *apb.GetNodeRequest) (*apb.Node, error) {
	if err := m.f.checkOwner(ctx); err != nil {
		return nil, err
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	n, ok := m.f.nodes[req.NodeId]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "node %s does not exist", req.NodeId)
	}
	return proto.Clone(n).(*apb.Node), nil
}

// modify runs fn on node id under the lock, after recording the call.
func (m fakeManagement) modify(ctx context.Context, call, id string, req proto.Message, fn func(*apb.Node) error) error {
	if err := m.f.checkOwner(ctx); err != nil {
		return err
	}
	m.f.record(call+" "+id, req)
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	n, ok := m.f.nodes[id]
	if !ok {
		return status.Errorf(codes.NotFound, "node %s does not exist", id)
	}
	return fn(n)
}

func (m fakeManagement) ApproveNode(ctx context.Context, req *apb.ApproveNodeRequest) (*apb.ApproveNodeResponse, error) {
	id := req.GetNodeId()
	if pub := req.GetPublicKey(); pub != nil {
		id = identity.NodeID(pub)
	}
	return &apb.ApproveNodeResponse{}, m.modify(ctx, "ApproveNode", id, req, func(n *apb.Node) error {
		switch n.State {
		case apb.NodeState_NODE_STATE_NEW:
			n.State = apb.NodeState_NODE_STATE_STANDBY
		case apb.NodeState_NODE_STATE_DECOMMISSIONED:
			return status.Errorf(codes.FailedPrecondition, "node %s is DECOMMISSIONED", n.Id)
		}
		return nil
	})
}

func (m fakeManagement) UpdateNodeRoles(ctx context.Context, req *apb.UpdateNodeRolesRequest) (*apb.UpdateNodeRolesResponse, error) {
	return &apb.UpdateNodeRolesResponse{}, m.modify(ctx, "UpdateNodeRoles", req.NodeId, req, func(n *apb.Node) error {
		if n.State != apb.NodeState_NODE_STATE_UP {
			return status.Errorf(codes.FailedPrecondition, "node %s is %s, not UP", n.Id, stateText(n.State))
		}
		if n.Roles == nil {
			n.Roles = &apb.NodeRoles{}
		}
		if req.ConsensusMember != nil {
			n.Roles.ConsensusMember = *req.ConsensusMember
		}
		if req.KubernetesController != nil {
			n.Roles.KubernetesController = *req.KubernetesController
		}
		if req.KubernetesWorker != nil {
			n.Roles.KubernetesWorker = *req.KubernetesWorker
		}
		return nil
	})
}

func (m fakeManagement) UpdateNodeLabels(ctx context.Context, req *apb.UpdateNodeLabelsRequest) (*apb.UpdateNodeLabelsResponse, error) {
	return &apb.UpdateNodeLabelsResponse{}, m.modify(ctx, "UpdateNodeLabels", req.NodeId, req, func(n *apb.Node) error {
		if n.Labels == nil {
			n.Labels = make(map[string]string)
		}
		for k, v := range req.Upsert {
			n.Labels[k] = v
		}
		for _, k := range req.Remove {
			delete(n.Labels, k)
		}
		return nil
	})
}

func (m fakeManagement) DeleteNode(ctx context.Context, req *apb.DeleteNodeRequest) (*apb.DeleteNodeResponse, error) {
	return &apb.DeleteNodeResponse{}, m.modify(ctx, "DeleteNode", req.NodeId, req, func(n *apb.Node) error {
		if len(heldRoles(n.Roles)) > 0 && !req.SkipSafetyChecks {
			return status.Errorf(codes.FailedPrecondition, "node %s still holds roles", n.Id)
		}
		n.State = apb.NodeState_NODE_STATE_DECOMMISSIONED
		n.Roles = &apb.NodeRoles{}
		return nil
	})
}

func (m fakeManagement) IssueMetricsCredential(ctx context.Context, req *apb.IssueMetricsCredentialRequest) (*apb.IssueMetricsCredentialResponse, error) {
	if err := m.f.checkOwner(ctx); err != nil {
		return nil, err
	}
	m.f.record("IssueMetricsCredential", req)
	pub, err := x509.ParsePKIXPublicKey(req.PublicKey)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "public_key: %v", err)
	}
	cert, err := m.f.ca.IssueMetricsCertificate(req.Name, pub.(ed25519.PublicKey), time.Duration(req.ValiditySeconds)*time.Second)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &apb.IssueMetricsCredentialResponse{Certificate: cert.Raw, CaCertificate: m.f.ca.Certificate().Raw}, nil
}
