package curator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

// managementServer serves Management on the leader. Role and deletion changes, which also
// change etcd's membership, are in impl_management_roles.go.
type managementServer struct {
	apb.UnimplementedManagementServer
}

// checkNodeID reports a malformed node ID in a request as codes.InvalidArgument.
func checkNodeID(step, id string) error {
	if err := identity.ValidateNodeID(id); err != nil {
		return status.Errorf(codes.InvalidArgument, "%s node: node_id: %v", step, err)
	}
	return nil
}

func (m *managementServer) GetRegisterTicket(ctx context.Context, _ *apb.GetRegisterTicketRequest) (*apb.GetRegisterTicketResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	return &apb.GetRegisterTicketResponse{Ticket: l.ticket}, nil
}

func (m *managementServer) GetClusterInfo(ctx context.Context, _ *apb.GetClusterInfoRequest) (*apb.GetClusterInfoResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	nodes, err := l.nodes(ctx)
	if err != nil {
		return nil, err
	}
	policy, err := l.attestationPolicy(ctx)
	if err != nil {
		return nil, err
	}
	return &apb.GetClusterInfoResponse{
		AttestationPolicy: policy,
		ClusterId:         l.cluster.GetClusterId(),
		CaCertificate:     l.ca.Certificate().Raw,
		ClusterAddresses:  curatorAddresses(l.cfg.AdvertiseAddress, nodes),
	}, nil
}

// curatorAddresses lists where curators serve: this leader, and every UP consensus member
// that reported a running curator. Sorted, without duplicates.
func curatorAddresses(self string, nodes []*cpb.NodeRecord) []string {
	addrs := []string{self}
	for _, n := range nodes {
		st := n.GetStatus()
		if n.GetState() != apb.NodeState_NODE_STATE_UP || !rolesOf(n.GetRoles()).consensus ||
			st.GetExternalAddress() == "" || st.GetRunningCurator() == nil {
			continue
		}
		addrs = append(addrs, net.JoinHostPort(st.GetExternalAddress(), strconv.Itoa(int(st.GetRunningCurator().GetPort()))))
	}
	slices.Sort(addrs)
	return slices.Compact(addrs)
}

// describe is a node as a manager sees it, with its health as of now.
func (l *leader) describe(n *cpb.NodeRecord, now time.Time) *apb.Node {
	out := managementNode(n)
	last, beaten := l.beats.lastBeat(n.GetId())
	out.Health = nodeHealth(n.GetState(), last, beaten, l.since, now, l.cfg.HeartbeatTimeout)
	if beaten {
		out.TimeSinceHeartbeat = durationpb.New(now.Sub(last))
	}
	return out
}

func (m *managementServer) GetNodes(req *apb.GetNodesRequest, srv apb.Management_GetNodesServer) error {
	l, err := leaderFromContext(srv.Context())
	if err != nil {
		return err
	}
	for i, s := range req.GetStates() {
		if _, known := apb.NodeState_name[int32(s)]; !known || s == apb.NodeState_NODE_STATE_UNSPECIFIED {
			return status.Errorf(codes.InvalidArgument, "get nodes: states[%d]: %v is not a node state", i, s)
		}
	}
	nodes, err := l.nodes(srv.Context())
	if err != nil {
		return err
	}
	now := time.Now()
	for _, n := range nodes {
		if len(req.GetStates()) > 0 && !slices.Contains(req.GetStates(), n.GetState()) {
			continue
		}
		if err := srv.Send(l.describe(n, now)); err != nil {
			return err
		}
	}
	return nil
}

func (m *managementServer) GetNode(ctx context.Context, req *apb.GetNodeRequest) (*apb.Node, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkNodeID("get", req.GetNodeId()); err != nil {
		return nil, err
	}
	n, err := l.node(ctx, "get", req.GetNodeId())
	if err != nil {
		return nil, err
	}
	return l.describe(n, time.Now()), nil
}

func (m *managementServer) ApproveNode(ctx context.Context, req *apb.ApproveNodeRequest) (*apb.ApproveNodeResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	var id string
	var key []byte
	switch node := req.GetNode().(type) {
	case *apb.ApproveNodeRequest_NodeId:
		if err := checkNodeID("approve", node.NodeId); err != nil {
			return nil, err
		}
		id = node.NodeId
	case *apb.ApproveNodeRequest_PublicKey:
		if err := identity.CheckPublicKey(node.PublicKey); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "approve node: public_key: %v", err)
		}
		key, id = node.PublicKey, identity.NodeID(node.PublicKey)
	default:
		return nil, status.Error(codes.InvalidArgument, "approve node: set node_id or public_key")
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(ctx, "approve", id)
	if err != nil {
		return nil, err
	}
	if key != nil && !bytes.Equal(n.GetPublicKey(), key) {
		return nil, nodeError(codes.NotFound, "approve", id, "no node has the given public key (another key has this node ID)")
	}
	next, err := approveNode(n)
	if err != nil {
		return nil, err
	}
	policy, err := l.attestationPolicy(ctx)
	if err != nil {
		return nil, err
	}
	att, err := approveAttestation(id, n.GetAttestation(), req.GetPinEkFingerprint(), policy, time.Now())
	if err != nil {
		return nil, err
	}
	if !proto.Equal(att, n.GetAttestation()) {
		if next == nil {
			next = clone(n)
		}
		next.Attestation = att
	}
	if next != nil {
		if err := l.storeNode(ctx, next); err != nil {
			return nil, err
		}
	}
	return &apb.ApproveNodeResponse{}, nil
}

func (m *managementServer) UpdateNodeLabels(ctx context.Context, req *apb.UpdateNodeLabelsRequest) (*apb.UpdateNodeLabelsResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkNodeID("update labels of", req.GetNodeId()); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(ctx, "update labels of", req.GetNodeId())
	if err != nil {
		return nil, err
	}
	labels, err := nextLabels(n.GetId(), n.GetLabels(), req.GetUpsert(), req.GetRemove())
	if err != nil {
		return nil, err
	}
	if maps.Equal(labels, n.GetLabels()) {
		return &apb.UpdateNodeLabelsResponse{}, nil
	}
	next := clone(n)
	next.Labels = labels
	if err := l.storeNode(ctx, next); err != nil {
		return nil, err
	}
	return &apb.UpdateNodeLabelsResponse{}, nil
}

// TrustRelease adds a release to the releases the attestation policy trusts.
func (m *managementServer) TrustRelease(ctx context.Context, req *apb.TrustReleaseRequest) (*apb.TrustReleaseResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	uki := req.GetUkiAuthenticodeSha256()
	if len(uki) != sha256.Size {
		return nil, status.Errorf(codes.InvalidArgument, "trust release: uki_authenticode_sha256: %d bytes, want a SHA-256 (%d)", len(uki), sha256.Size)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cluster, err := getCluster(ctx, l.etcd())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "trust release: %v", err)
	}
	next, changed := trustRelease(cluster, uki)
	if changed {
		op, err := putProtoOp(keyCluster, next)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "trust release: %v", err)
		}
		if err := l.commit(ctx, op); err != nil {
			return nil, err
		}
	}
	return &apb.TrustReleaseResponse{AttestationPolicy: next.GetAttestationPolicy()}, nil
}
