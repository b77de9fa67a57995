package curator

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/rpc"
)

// A node certificate is never revoked: the registry refuses nodes that are no longer UP
// instead. The authorizer (package rpc, with Service.checkNode) checks this when a call
// starts; the node-facing handlers check it again against the record they act on, since a
// node may be deleted between the two, and long-lived calls end when their node leaves UP.

// callingNode returns the leader and the record of the calling node, which must be UP
// (codes.PermissionDenied otherwise, naming step and the node).
func callingNode(ctx context.Context, step string) (*leader, *cpb.NodeRecord, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	p, err := rpc.PeerFromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	n, err := getNode(ctx, l.etcd(), p.Name)
	if err != nil {
		return nil, nil, nodeError(codes.Unavailable, step, p.Name, "%v", err)
	}
	if err := checkCaller(step, p.Name, n); err != nil {
		return nil, nil, err
	}
	return l, n, nil
}

// checkCaller decides whether node nodeID, whose record is n (nil: none), may still act as a
// node: only while it is UP.
func checkCaller(step, nodeID string, n *cpb.NodeRecord) error {
	switch {
	case n == nil:
		return nodeError(codes.PermissionDenied, step, nodeID, "node is not known to this cluster")
	case n.GetState() == apb.NodeState_NODE_STATE_DECOMMISSIONED:
		return nodeError(codes.PermissionDenied, step, nodeID, "node %s was deleted", nodeID)
	case n.GetState() != apb.NodeState_NODE_STATE_UP:
		return nodeError(codes.PermissionDenied, step, nodeID, "node is %s, not UP", stateName(n.GetState()))
	}
	return nil
}

// untilCallerGone follows node nodeID's record and returns checkCaller's error for step once
// the node is no longer UP; or, if ctx ends or etcd fails first, that error.
func untilCallerGone(ctx context.Context, cl *clientv3.Client, step, nodeID string) error {
	none := func(*cpb.NodeRecord) bool { return false }
	discard := func(*cpb.WatchEvent) error { return nil }
	return watchNodes(ctx, cl, nodeKey(nodeID), false, none, watchCaller{step: step, id: nodeID}, discard)
}
