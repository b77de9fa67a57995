package curator

import (
	"context"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/consensus"
)

// membershipTimeout bounds an etcd membership change made within a call.
const membershipTimeout = 30 * time.Second

// UpdateNodeRoles changes a node's roles. Granting consensus_member first adds the node to
// etcd as a learner (the leader's promoter makes it a voter once its member runs) and keeps
// the member list it must start with in the role; revoking it first removes the member. The
// record is written last, so a call that fails half-way is repaired by repeating it: both
// membership steps are idempotent.
func (m *managementServer) UpdateNodeRoles(ctx context.Context, req *apb.UpdateNodeRolesRequest) (*apb.UpdateNodeRolesResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkNodeID("update roles of", req.GetNodeId()); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(ctx, "update roles of", req.GetNodeId())
	if err != nil {
		return nil, err
	}
	cur := rolesOf(n.GetRoles())
	want, err := nextRoles(n.GetId(), cur, req)
	if err != nil {
		return nil, err
	}
	members, err := l.consensusMembers(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkRoleChange(n, want, members); err != nil {
		return nil, err
	}
	if want == cur {
		return &apb.UpdateNodeRolesResponse{}, nil
	}

	roles := &cpb.NodeRoles{}
	if n.GetRoles() != nil {
		roles = proto.Clone(n.GetRoles()).(*cpb.NodeRoles)
	}
	switch {
	case want.consensus && !cur.consensus:
		peers, err := l.addConsensusMember(ctx, n)
		if err != nil {
			return nil, err
		}
		roles.ConsensusMember = &cpb.ConsensusMember{Peers: peers}
	case !want.consensus && cur.consensus:
		if err := l.removeConsensusMember(ctx, "update roles of", n.GetId()); err != nil {
			return nil, err
		}
		roles.ConsensusMember = nil
	}
	roles.KubernetesController = nil
	if want.controller {
		roles.KubernetesController = &cpb.KubernetesController{}
	}
	roles.KubernetesWorker = nil
	if want.worker {
		roles.KubernetesWorker = &cpb.KubernetesWorker{}
	}
	next := clone(n)
	next.Roles = roles
	if err := l.storeNode(ctx, next); err != nil {
		return nil, err
	}
	return &apb.UpdateNodeRolesResponse{}, nil
}

// addConsensusMember adds node n to etcd as a learner at its reported address and returns
// the members it must start with.
func (l *leader) addConsensusMember(ctx context.Context, n *cpb.NodeRecord) ([]*cpb.ConsensusPeer, error) {
	peerURL := "https://" + net.JoinHostPort(n.GetStatus().GetExternalAddress(), strconv.Itoa(l.cfg.ConsensusPeerPort))
	ctx, cancel := context.WithTimeout(ctx, membershipTimeout)
	defer cancel()
	members, err := consensus.AddLearner(ctx, l.etcd(), n.GetId(), peerURL)
	if err != nil {
		if strings.Contains(err.Error(), rpctypes.ErrorDesc(rpctypes.ErrGRPCTooManyLearners)) {
			return nil, nodeError(codes.FailedPrecondition, "update roles of", n.GetId(),
				"another node is still joining etcd as a learner; grant consensus_member again once it has been promoted")
		}
		return nil, nodeError(codes.Unavailable, "update roles of", n.GetId(), "add etcd learner: %v", err)
	}
	peers := make([]*cpb.ConsensusPeer, 0, len(members))
	for name, url := range members {
		peers = append(peers, &cpb.ConsensusPeer{Name: name, Url: url})
	}
	sort.Slice(peers, func(i, j int) bool { return peers[i].Name < peers[j].Name })
	return peers, nil
}

func (l *leader) removeConsensusMember(ctx context.Context, step, nodeID string) error {
	ctx, cancel := context.WithTimeout(ctx, membershipTimeout)
	defer cancel()
	if err := consensus.RemoveMember(ctx, l.etcd(), nodeID); err != nil {
		return nodeError(codes.Unavailable, step, nodeID, "remove etcd member: %v", err)
	}
	return nil
}

// DeleteNode decommissions a node: its etcd membership goes first, then the record says
// DECOMMISSIONED (which makes every curator refuse its certificate).
func (m *managementServer) DeleteNode(ctx context.Context, req *apb.DeleteNodeRequest) (*apb.DeleteNodeResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkNodeID("delete", req.GetNodeId()); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(ctx, "delete", req.GetNodeId())
	if err != nil {
		return nil, err
	}
	members, err := l.consensusMembers(ctx)
	if err != nil {
		return nil, err
	}
	next, err := deleteNode(n, req.GetSkipSafetyChecks(), members)
	if err != nil {
		return nil, err
	}
	if next == nil {
		return &apb.DeleteNodeResponse{}, nil // already DECOMMISSIONED
	}
	if rolesOf(n.GetRoles()).consensus {
		if err := l.removeConsensusMember(ctx, "delete", n.GetId()); err != nil {
			return nil, err
		}
	}
	if err := l.storeNode(ctx, next); err != nil {
		return nil, err
	}
	return &apb.DeleteNodeResponse{}, nil
}
