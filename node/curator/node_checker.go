package curator

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
)

// checkNode is the rpc.NodeChecker of every curator: a node certificate is honoured only
// while its node is UP. This is how deleting a node revokes its still-valid certificate.
// Every curator can answer it, from etcd.
func (s *Service) checkNode(ctx context.Context, nodeID string) error {
	n, err := getNode(ctx, s.cfg.Etcd, nodeID)
	if err != nil {
		return status.Errorf(codes.Unavailable, "check node %s: %v", nodeID, err)
	}
	if n == nil {
		return status.Errorf(codes.PermissionDenied, "node %s is not known to this cluster", nodeID)
	}
	if n.GetState() != apb.NodeState_NODE_STATE_UP {
		return status.Errorf(codes.PermissionDenied, "node %s is %s: its certificate is no longer honoured", nodeID, stateName(n.GetState()))
	}
	return nil
}
