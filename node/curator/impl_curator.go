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

// streamEnded explains why a long-lived call of the leader ended: if the leadership did, the
// caller must reconnect (to the new leader), which codes.Unavailable says.
func (l *leader) streamEnded(err error) error {
	if l.ctx.Err() != nil {
		return status.Errorf(codes.Unavailable, "curator on %s is no longer the leader", l.nodeID)
	}
	return err
}

// Watch streams the calling node's own record, or every UP node, until the caller ends the
// call, the leadership ends, or the calling node leaves UP (deleted), which ends the call with
// codes.PermissionDenied after the event that carries the node's own tombstone.
func (c *curatorServer) Watch(req *cpb.WatchRequest, srv cpb.Curator_WatchServer) error {
	const step = "watch for"
	l, caller, err := callingNode(srv.Context(), step)
	if err != nil {
		return err
	}
	self := watchCaller{step: step, id: caller.GetId()}
	switch kind := req.GetKind().(type) {
	case *cpb.WatchRequest_Node:
		id := kind.Node.GetNodeId()
		if err := checkNodeID("watch", id); err != nil {
			return err
		}
		// Another node's record is not the caller's business: it holds that node's roles and
		// status, and what other nodes need of them is in the up_nodes watch.
		if id != caller.GetId() {
			return nodeError(codes.PermissionDenied, step, caller.GetId(), "node.node_id %s: a node may watch only its own record (or up_nodes)", id)
		}
		notDeleted := func(n *cpb.NodeRecord) bool { return n.GetState() != apb.NodeState_NODE_STATE_DECOMMISSIONED }
		return l.streamEnded(watchNodes(srv.Context(), l.etcd(), nodeKey(id), false, notDeleted, self, srv.Send))
	case *cpb.WatchRequest_UpNodes:
		up := func(n *cpb.NodeRecord) bool { return n.GetState() == apb.NodeState_NODE_STATE_UP }
		return l.streamEnded(watchNodes(srv.Context(), l.etcd(), keyNodesPrefix, true, up, self, srv.Send))
	default:
		return nodeError(codes.InvalidArgument, step, caller.GetId(), "set node or up_nodes")
	}
}

// Heartbeat notes the arrival of each message from the calling node and answers it, until the
// node ends the call, the leadership ends, or the node leaves UP (deleted: the call ends with
// codes.PermissionDenied).
func (c *curatorServer) Heartbeat(srv cpb.Curator_HeartbeatServer) error {
	const step = "heartbeat of"
	l, n, err := callingNode(srv.Context(), step)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(srv.Context())
	defer cancel()
	gone := make(chan error, 1)
	go func() { gone <- untilCallerGone(ctx, l.etcd(), step, n.GetId()) }()
	// Recv blocks until a message comes, so it runs on its own; the handler returning (which
	// ends the call) makes it return. Send stays on this goroutine, the only one sending.
	received := make(chan error)
	go func() {
		for {
			_, err := srv.Recv()
			select {
			case received <- err:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		select {
		case err := <-gone:
			return l.streamEnded(err)
		case err := <-received:
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return l.streamEnded(err)
			}
		}
		l.beats.beat(n.GetId(), time.Now())
		if err := srv.Send(&cpb.HeartbeatUpdateResponse{}); err != nil {
			return l.streamEnded(err)
		}
	}
}

func (c *curatorServer) UpdateNodeStatus(ctx context.Context, req *cpb.UpdateNodeStatusRequest) (*cpb.UpdateNodeStatusResponse, error) {
	const step = "update status of"
	p, err := rpc.PeerFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkNodeStatus(req.GetStatus()); err != nil {
		return nil, nodeError(codes.InvalidArgument, step, p.Name, "%v", err)
	}
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, n, err := callingNode(ctx, step)
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
		return l.issueConsensusCertificate(ctx, n.GetId(), req.GetPublicKey(), ip)
	default:
		return nil, nodeError(codes.InvalidArgument, step, n.GetId(), "kind %v is not a certificate kind", req.GetKind())
	}
	return &cpb.IssueCertificateResponse{Certificate: der, CaCertificate: l.ca.Certificate().Raw}, nil
}

// issueConsensusCertificate issues an etcd certificate to node nodeID and records it for
// revocation, with the cluster's revocation list for the member to check peers against. It
// holds l.mu and reads the node again, so that a role removal or deletion racing it either
// sees the recorded certificate (and revokes it) or is seen here (and nothing is issued).
func (l *leader) issueConsensusCertificate(ctx context.Context, nodeID string, pub []byte, ip net.IP) (*cpb.IssueCertificateResponse, error) {
	const step = "issue certificate for"
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(ctx, step, nodeID)
	if err != nil {
		return nil, err
	}
	if err := checkCaller(step, nodeID, n); err != nil {
		return nil, err
	}
	if !rolesOf(n.GetRoles()).consensus {
		return nil, nodeError(codes.PermissionDenied, step, nodeID, "an etcd certificate needs the consensus_member role")
	}
	cert, err := IssueConsensusCertificate(l.ca, nodeID, pub, ip)
	if err != nil {
		return nil, nodeError(codes.Internal, step, nodeID, "%v", err)
	}
	op, err := recordIssuedOp(nodeID, cert)
	if err != nil {
		return nil, nodeError(codes.Internal, step, nodeID, "%v", err)
	}
	if err := l.commit(ctx, op); err != nil {
		return nil, err
	}
	crl, err := l.revocationList(ctx)
	if err != nil {
		return nil, err
	}
	return &cpb.IssueCertificateResponse{Certificate: cert.Raw, CaCertificate: l.ca.Certificate().Raw, RevocationList: crl}, nil
}
