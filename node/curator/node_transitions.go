package curator

import (
	"bytes"
	"crypto/ed25519"
	"crypto/subtle"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

// The node state machine (see NodeState in api/v1/common.proto):
//
//	(register) -> NEW -(approve)-> STANDBY -(commit)-> UP
//	any state -(delete)-> DECOMMISSIONED
//
// Each function below decides one step for a stored record, without I/O. It returns the
// record to store, or nil if nothing changes (a repeated call), or a gRPC status error naming
// the step, the node and what is wrong. It never modifies its argument.

// stateName is a state as people read it: "UP", not "NODE_STATE_UP".
func stateName(s apb.NodeState) string {
	return strings.TrimPrefix(s.String(), "NODE_STATE_")
}

// nodeError is a status error for step on node nodeID, e.g. "approve node metropolis-ab12:
// node is UP, not NEW".
func nodeError(code codes.Code, step, nodeID, format string, args ...any) error {
	return status.Errorf(code, step+" node "+nodeID+": "+format, args...)
}

func clone(n *cpb.NodeRecord) *cpb.NodeRecord { return proto.Clone(n).(*cpb.NodeRecord) }

// registerNode decides RegisterNode by the holder of node key pub with join key joinPub;
// existing is the record under pub's node ID, or nil.
func registerNode(existing *cpb.NodeRecord, pub, joinPub ed25519.PublicKey) (*cpb.NodeRecord, error) {
	id := identity.NodeID(pub)
	if existing == nil {
		return &cpb.NodeRecord{Id: id, PublicKey: pub, JoinPublicKey: joinPub, State: apb.NodeState_NODE_STATE_NEW}, nil
	}
	if !bytes.Equal(existing.GetPublicKey(), pub) {
		return nil, nodeError(codes.AlreadyExists, "register", id, "another key already holds this node ID")
	}
	switch existing.GetState() {
	case apb.NodeState_NODE_STATE_NEW:
		if bytes.Equal(existing.GetJoinPublicKey(), joinPub) {
			return nil, nil
		}
		next := clone(existing)
		next.JoinPublicKey = joinPub
		return next, nil
	case apb.NodeState_NODE_STATE_DECOMMISSIONED:
		return nil, nodeError(codes.FailedPrecondition, "register", id, "node is DECOMMISSIONED: a deleted node's key cannot register again")
	default:
		// Approved: the manager approved the node with this join key, so it stays.
		if bytes.Equal(existing.GetJoinPublicKey(), joinPub) {
			return nil, nil
		}
		return nil, nodeError(codes.AlreadyExists, "register", id,
			"node is already registered (%s) with another join key: join_public_key cannot change after approval", stateName(existing.GetState()))
	}
}

// approveNode decides ApproveNode.
func approveNode(n *cpb.NodeRecord) (*cpb.NodeRecord, error) {
	switch n.GetState() {
	case apb.NodeState_NODE_STATE_NEW:
		next := clone(n)
		next.State = apb.NodeState_NODE_STATE_STANDBY
		return next, nil
	case apb.NodeState_NODE_STATE_STANDBY, apb.NodeState_NODE_STATE_UP:
		return nil, nil
	default:
		return nil, nodeError(codes.FailedPrecondition, "approve", n.GetId(), "node is %s, not NEW", stateName(n.GetState()))
	}
}

// commitNode decides CommitNode with the cluster half of the storage key unlockKey. A nil
// record and nil error means the node had already committed with the same key, and gets its
// certificate again.
func commitNode(n *cpb.NodeRecord, unlockKey []byte) (*cpb.NodeRecord, error) {
	switch n.GetState() {
	case apb.NodeState_NODE_STATE_NEW:
		return nil, nodeError(codes.FailedPrecondition, "commit", n.GetId(), "node is NEW, not yet approved: ask a manager to approve it")
	case apb.NodeState_NODE_STATE_STANDBY:
		next := clone(n)
		next.State = apb.NodeState_NODE_STATE_UP
		next.ClusterUnlockKey = unlockKey
		return next, nil
	case apb.NodeState_NODE_STATE_UP:
		if subtle.ConstantTimeCompare(n.GetClusterUnlockKey(), unlockKey) == 1 {
			return nil, nil
		}
		// Not FailedPrecondition, which tells a committing node to wait for approval.
		return nil, nodeError(codes.AlreadyExists, "commit", n.GetId(),
			"node already committed (it is UP) with another cluster_unlock_key, which cannot change")
	default:
		return nil, nodeError(codes.PermissionDenied, "commit", n.GetId(), "node is %s", stateName(n.GetState()))
	}
}

// joinNode decides JoinNode by the holder of joinPub and returns the cluster half of the
// node's storage key. The key is checked before the state, so a caller that cannot prove the
// join key learns nothing about the node.
func joinNode(n *cpb.NodeRecord, joinPub ed25519.PublicKey) ([]byte, error) {
	if subtle.ConstantTimeCompare(n.GetJoinPublicKey(), joinPub) != 1 {
		return nil, nodeError(codes.PermissionDenied, "join", n.GetId(), "the presented key is not the node's join key")
	}
	switch n.GetState() {
	case apb.NodeState_NODE_STATE_UP:
		return n.GetClusterUnlockKey(), nil
	case apb.NodeState_NODE_STATE_NEW, apb.NodeState_NODE_STATE_STANDBY:
		return nil, nodeError(codes.FailedPrecondition, "join", n.GetId(), "node is %s, not UP: it has not committed yet", stateName(n.GetState()))
	default:
		return nil, nodeError(codes.PermissionDenied, "join", n.GetId(), "node is %s", stateName(n.GetState()))
	}
}

// deleteNode decides DeleteNode. consensusMembers is how many nodes hold the consensus member
// role, this one included.
func deleteNode(n *cpb.NodeRecord, skipSafetyChecks bool, consensusMembers int) (*cpb.NodeRecord, error) {
	if n.GetState() == apb.NodeState_NODE_STATE_DECOMMISSIONED {
		return nil, nil
	}
	roles := rolesOf(n.GetRoles())
	if roles.consensus && consensusMembers <= 1 {
		return nil, nodeError(codes.FailedPrecondition, "delete", n.GetId(), "node is the cluster's last consensus member")
	}
	if held := roles.names(); len(held) > 0 && !skipSafetyChecks {
		return nil, nodeError(codes.FailedPrecondition, "delete", n.GetId(),
			"node still holds %s: revoke with UpdateNodeRoles first, or set skip_safety_checks", strings.Join(held, ", "))
	}
	next := clone(n)
	next.State = apb.NodeState_NODE_STATE_DECOMMISSIONED
	next.Roles = nil
	next.ClusterUnlockKey = nil
	return next, nil
}
