package curator

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

// roleSet is which roles a node holds, without their configuration.
type roleSet struct{ consensus, controller, worker bool }

func rolesOf(r *cpb.NodeRoles) roleSet {
	return roleSet{
		consensus:  r.GetConsensusMember() != nil,
		controller: r.GetKubernetesController() != nil,
		worker:     r.GetKubernetesWorker() != nil,
	}
}

// names lists the held roles by their API field names.
func (r roleSet) names() []string {
	var out []string
	if r.consensus {
		out = append(out, "consensus_member")
	}
	if r.controller {
		out = append(out, "kubernetes_controller")
	}
	if r.worker {
		out = append(out, "kubernetes_worker")
	}
	return out
}

// nextRoles decides the roles a node holding cur ends up with after req, enforcing that
// kubernetes_controller needs consensus_member. A request that breaks the rule by itself is
// invalid (codes.InvalidArgument); one that breaks it only together with the roles the node
// already holds is refused for the node's state (codes.FailedPrecondition).
func nextRoles(nodeID string, cur roleSet, req *apb.UpdateNodeRolesRequest) (roleSet, error) {
	if req.ConsensusMember == nil && req.KubernetesController == nil && req.KubernetesWorker == nil {
		return cur, status.Errorf(codes.InvalidArgument, "update roles of node %s: the request grants or revokes no role", nodeID)
	}
	if req.GetKubernetesController() && req.ConsensusMember != nil && !req.GetConsensusMember() {
		return cur, status.Errorf(codes.InvalidArgument,
			"update roles of node %s: kubernetes_controller needs consensus_member, which the request revokes", nodeID)
	}
	next := cur
	if req.ConsensusMember != nil {
		next.consensus = req.GetConsensusMember()
	}
	if req.KubernetesController != nil {
		next.controller = req.GetKubernetesController()
	}
	if req.KubernetesWorker != nil {
		next.worker = req.GetKubernetesWorker()
	}
	if next.controller && !next.consensus {
		if req.KubernetesController != nil {
			return cur, nodeError(codes.FailedPrecondition, "update roles of", nodeID,
				"kubernetes_controller needs consensus_member, which the node does not hold: grant both")
		}
		return cur, nodeError(codes.FailedPrecondition, "update roles of", nodeID,
			"the node holds kubernetes_controller, which needs consensus_member: revoke both")
	}
	return next, nil
}

// checkRoleChange decides whether node n may go from its roles to next: it must be UP, a new
// consensus member must have reported the address its etcd member will be reached at, and the
// cluster must keep a consensus member. consensusMembers counts the nodes holding that role,
// n included.
func checkRoleChange(n *cpb.NodeRecord, next roleSet, consensusMembers int) error {
	if n.GetState() != apb.NodeState_NODE_STATE_UP {
		return nodeError(codes.FailedPrecondition, "update roles of", n.GetId(), "node is %s, not UP", stateName(n.GetState()))
	}
	cur := rolesOf(n.GetRoles())
	if next.consensus && !cur.consensus && n.GetStatus().GetExternalAddress() == "" {
		return nodeError(codes.FailedPrecondition, "update roles of", n.GetId(),
			"node has not reported its address (UpdateNodeStatus), which its etcd member needs")
	}
	if cur.consensus && !next.consensus && consensusMembers <= 1 {
		return nodeError(codes.FailedPrecondition, "update roles of", n.GetId(),
			"node is the cluster's last consensus member")
	}
	return nil
}

// checkPeerAddressFree refuses to make node n a consensus member at the address another
// consensus member reports: etcd tells members apart by peer URL until they have started, so
// two nodes at one address would share one member (and removing one would remove the other's).
func checkPeerAddressFree(n *cpb.NodeRecord, nodes []*cpb.NodeRecord) error {
	if holder := peerAddressHolder(n, nodes); holder != "" {
		return nodeError(codes.FailedPrecondition, "update roles of", n.GetId(),
			"node %s, a consensus member, reports the same address %s", holder, n.GetStatus().GetExternalAddress())
	}
	return nil
}

// peerAddressHolder returns the ID of a node other than n that holds the consensus member role
// and reports n's address, or "".
func peerAddressHolder(n *cpb.NodeRecord, nodes []*cpb.NodeRecord) string {
	addr := n.GetStatus().GetExternalAddress()
	for _, o := range nodes {
		if o.GetId() != n.GetId() && addr != "" && rolesOf(o.GetRoles()).consensus && o.GetStatus().GetExternalAddress() == addr {
			return o.GetId()
		}
	}
	return ""
}
