package curator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/rpc"
)

// callingNode returns the leader and the node record of the calling node (which the
// authorizer has checked is UP).
func callingNode(ctx context.Context, step string) (*leader, *cpb.NodeRecord, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	p, err := rpc.PeerFromContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	n, err := l.node(ctx, step, p.Name)
	if err != nil {
		return nil, nil, err
	}
	return l, n, nil
}

// streamEnded explains why a long-lived call of the leader ended: if the leadership did, the
// caller must reconnect (to the new leader), which codes.Unavailable says.
func (l *leader) streamEnded(err error) error {
	if l.ctx.Err() != nil {
		return status.Errorf(codes.Unavailable, "curator on %s is no longer the leader", l.nodeID)
	}
	return err
}

func (c *curatorServer) Watch(req *cpb.WatchRequest, srv cpb.Curator_WatchServer) error {
	l, err := leaderFromContext(srv.Context())
	if err != nil {
		return err
	}
	switch kind := req.GetKind().(type) {
	case *cpb.WatchRequest_Node:
		id := kind.Node.GetNodeId()
		if err := checkNodeID("watch", id); err != nil {
			return err
		}
		notDeleted := func(n *cpb.NodeRecord) bool { return n.GetState() != apb.NodeState_NODE_STATE_DECOMMISSIONED }
		return l.streamEnded(watchNodes(srv.Context(), l.etcd(), nodeKey(id), false, notDeleted, srv.Send))
	case *cpb.WatchRequest_UpNodes:
		up := func(n *cpb.NodeRecord) bool { return n.GetState() == apb.NodeState_NODE_STATE_UP }
		return l.streamEnded(watchNodes(srv.Context(), l.etcd(), keyNodesPrefix, true, up, srv.Send))
	default:
		return status.Error(codes.InvalidArgument, "watch: set node or up_nodes")
	}
}

// Heartbeat notes the arrival of each message from the calling node and answers it.
func (c *curatorServer) Heartbeat(srv cpb.Curator_HeartbeatServer) error {
	l, err := leaderFromContext(srv.Context())
	if err != nil {
		return err
	}
	p, err := rpc.PeerFromContext(srv.Context())
	if err != nil {
		return err
	}
	for {
		if _, err := srv.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return l.streamEnded(err)
		}
		l.beats.beat(p.Name, time.Now())
		if err := srv.Send(&cpb.HeartbeatUpdateResponse{}); err != nil {
			return l.streamEnded(err)
		}
	}
}

func (c *curatorServer) UpdateNodeStatus(ctx context.Context, req *cpb.UpdateNodeStatusRequest) (*cpb.UpdateNodeStatusResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	p, err := rpc.PeerFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkNodeStatus(req.GetStatus()); err != nil {
		return nil, nodeError(codes.InvalidArgument, "update status of", p.Name, "%v", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(ctx, "update status of", p.Name)
	if err != nil {
		return nil, err
	}
	next := clone(n)
	next.Status = req.GetStatus()
	if err := l.storeNode(ctx, next); err != nil {
		return nil, err
	}
	return &cpb.UpdateNodeStatusResponse{}, nil
}

// IssueCertificate issues a renewed node certificate or an etcd certificate for the calling
// node, if it may have one.
func (c *curatorServer) IssueCertificate(ctx context.Context, req *cpb.IssueCertificateRequest) (*cpb.IssueCertificateResponse, error) {
	const step = "issue certificate for"
	l, n, err := callingNode(ctx, step)
	if err != nil {
		return nil, err
	}
	if err := identity.CheckPublicKey(req.GetPublicKey()); err != nil {
		return nil, nodeError(codes.InvalidArgument, step, n.GetId(), "public_key: %v", err)
	}
	var der []byte
	switch req.GetKind() {
	case cpb.CertificateKind_CERTIFICATE_KIND_NODE:
		if !bytes.Equal(req.GetPublicKey(), n.GetPublicKey()) {
			return nil, nodeError(codes.PermissionDenied, step, n.GetId(), "a node certificate is issued only for the node's own key")
		}
		cert, err := issueNodeCertificate(l.ca, n)
		if err != nil {
			return nil, nodeError(codes.Internal, step, n.GetId(), "%v", err)
		}
		der = cert.Raw
	case cpb.CertificateKind_CERTIFICATE_KIND_CONSENSUS_PEER:
		if !rolesOf(n.GetRoles()).consensus {
			return nil, nodeError(codes.PermissionDenied, step, n.GetId(), "an etcd certificate needs the consensus_member role")
		}
		ip := net.ParseIP(n.GetStatus().GetExternalAddress())
		if ip == nil {
			return nil, nodeError(codes.FailedPrecondition, step, n.GetId(), "node has not reported its address (UpdateNodeStatus)")
		}
		cert, err := IssueConsensusCertificate(l.ca, n.GetId(), req.GetPublicKey(), ip)
		if err != nil {
			return nil, nodeError(codes.Internal, step, n.GetId(), "%v", err)
		}
		der = cert.Raw
	default:
		return nil, nodeError(codes.InvalidArgument, step, n.GetId(), "kind %v is not a certificate kind", req.GetKind())
	}
	return &cpb.IssueCertificateResponse{Certificate: der, CaCertificate: l.ca.Certificate().Raw}, nil
}
