package curator

import (
	"context"
	"errors"
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
// membership steps are idempotent. Revoking it from the leader's own node hands the
// leadership over first (leader.handOver): the caller's retry reaches the next leader.
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
	nodes, err := l.nodes(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkRoleChange(n, want, consensusMembers(nodes)); err != nil {
		return nil, err
	}
	if want.consensus && !cur.consensus {
		if err := checkPeerAddressFree(n, nodes); err != nil {
			return nil, err
		}
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
		if n.GetId() == l.nodeID {
			return nil, l.handOver("update roles of", n.GetId())
		}
		if err := l.removeConsensusMember(ctx, "update roles of", n, nodes); err != nil {
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
	if !want.consensus && cur.consensus {
		// Its etcd certificates are revoked with the record that ends its membership.
		if err := l.storeNodeRevokingConsensus(ctx, next); err != nil {
			return nil, err
		}
		return &apb.UpdateNodeRolesResponse{}, nil
	}
	if err := l.storeNode(ctx, next); err != nil {
		return nil, err
	}
	return &apb.UpdateNodeRolesResponse{}, nil
}

// peerURL is where node n's etcd member is reached, from its reported address; "" if it has
// reported none.
func (l *leader) peerURL(n *cpb.NodeRecord) string {
	addr := n.GetStatus().GetExternalAddress()
	if addr == "" {
		return ""
	}
	return "https://" + net.JoinHostPort(addr, strconv.Itoa(l.cfg.ConsensusPeerPort))
}

// addConsensusMember adds node n to etcd as a learner at its reported address and returns
// the members it must start with.
func (l *leader) addConsensusMember(ctx context.Context, n *cpb.NodeRecord) ([]*cpb.ConsensusPeer, error) {
	ctx, cancel := context.WithTimeout(ctx, membershipTimeout)
	defer cancel()
	members, err := consensus.AddLearner(ctx, l.etcd(), n.GetId(), l.peerURL(n))
	if err != nil {
		if errors.Is(err, consensus.ErrPeerURLInUse) {
			return nil, nodeError(codes.FailedPrecondition, "update roles of", n.GetId(),
				"another etcd member already uses the node's address %s: %v", n.GetStatus().GetExternalAddress(), err)
		}
		if strings.Contains(err.Error(), rpctypes.ErrorDesc(rpctypes.ErrGRPCTooManyLearners)) {
			return nil, nodeError(codes.FailedPrecondition, "update roles of", n.GetId(),
				"another node is still joining etcd as a learner; grant consensus_member again once it has been promoted "+
					"(a learner no consensus member accounts for is removed after %v)", l.cfg.OrphanLearnerGrace)
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

// removeConsensusMember removes node n's etcd member: by name if it has started, else by the
// node's peer URL (a learner added for it that never started), unless another consensus
// member among nodes reports the same address and the unstarted learner may be its.
func (l *leader) removeConsensusMember(ctx context.Context, step string, n *cpb.NodeRecord, nodes []*cpb.NodeRecord) error {
	ctx, cancel := context.WithTimeout(ctx, membershipTimeout)
	defer cancel()
	peerURL := l.peerURL(n)
	if peerAddressHolder(n, nodes) != "" {
		peerURL = ""
	}
	if err := consensus.RemoveNodeMember(ctx, l.etcd(), n.GetId(), peerURL); err != nil {
		return nodeError(codes.Unavailable, step, n.GetId(), "remove etcd member: %v", err)
	}
	return nil
}

// DeleteNode decommissions a node: its etcd membership goes first, then the record says
// DECOMMISSIONED (which makes every curator refuse its certificate and ends its streams). The
// membership is removed whatever roles the record holds: a role grant that failed after
// adding the node as a learner leaves a member the record does not mention.
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
	nodes, err := l.nodes(ctx)
	if err != nil {
		return nil, err
	}
	next, err := deleteNode(n, req.GetSkipSafetyChecks(), consensusMembers(nodes))
	if err != nil {
		return nil, err
	}
	if next == nil {
		return &apb.DeleteNodeResponse{}, nil // already DECOMMISSIONED
	}
	if n.GetId() == l.nodeID {
		return nil, l.handOver("delete", n.GetId())
	}
	if err := l.removeConsensusMember(ctx, "delete", n, nodes); err != nil {
		return nil, err
	}
	if err := l.storeNodeRevokingConsensus(ctx, next); err != nil {
		return nil, err
	}
	return &apb.DeleteNodeResponse{}, nil
}
