package curator

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/rpc"
)

// curatorServer serves the Curator service on the leader: a node's way in (this file) and its
// life as a member (impl_curator.go).
type curatorServer struct {
	cpb.UnimplementedCuratorServer
}

// Bounds of the cluster half of a node's storage key: enough for a 256-bit key, and no more
// than a key derivation could want, so that the field cannot be used to store data.
const (
	minUnlockKeyBytes = 16
	maxUnlockKeyBytes = 64
)

// provenKey returns the key of the caller's TLS certificate, which the handshake proved the
// caller holds: how the open methods authenticate.
func provenKey(ctx context.Context, step, which string) (ed25519.PublicKey, error) {
	p, err := rpc.PeerFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if p.PublicKey == nil {
		return nil, status.Errorf(codes.Unauthenticated, "%s: connect with a (self-signed) TLS client certificate for the %s", step, which)
	}
	if err := identity.CheckPublicKey(p.PublicKey); err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "%s: TLS client certificate: %v", step, err)
	}
	return p.PublicKey, nil
}

func (c *curatorServer) RegisterNode(ctx context.Context, req *cpb.RegisterNodeRequest) (*cpb.RegisterNodeResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	pub, err := provenKey(ctx, "register node", "node key")
	if err != nil {
		return nil, err
	}
	id := identity.NodeID(pub)
	if !ticketMatches(req.GetRegisterTicket(), l.ticket) {
		return nil, nodeError(codes.PermissionDenied, "register", id, "invalid register ticket")
	}
	if err := identity.CheckPublicKey(req.GetJoinPublicKey()); err != nil {
		return nil, nodeError(codes.InvalidArgument, "register", id, "join_public_key: %v", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	existing, err := getNode(ctx, l.etcd(), id)
	if err != nil {
		return nil, nodeError(codes.Unavailable, "register", id, "%v", err)
	}
	next, err := registerNode(existing, pub, req.GetJoinPublicKey())
	if err != nil {
		return nil, err
	}
	if next != nil {
		if err := l.storeNode(ctx, next); err != nil {
			return nil, err
		}
	}
	return &cpb.RegisterNodeResponse{}, nil
}

// withAddress is n, or if n has not reported an address and addr is one, a copy of n that
// has: the address its certificate should name.
func withAddress(n *cpb.NodeRecord, addr net.IP) *cpb.NodeRecord {
	if addr == nil || n.GetStatus().GetExternalAddress() != "" {
		return n
	}
	c := proto.Clone(n).(*cpb.NodeRecord)
	if c.Status == nil {
		c.Status = &apb.NodeStatus{}
	}
	c.Status.ExternalAddress = addr.String()
	return c
}

func (c *curatorServer) CommitNode(ctx context.Context, req *cpb.CommitNodeRequest) (*cpb.CommitNodeResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	pub, err := provenKey(ctx, "commit node", "node key")
	if err != nil {
		return nil, err
	}
	id := identity.NodeID(pub)
	if k := len(req.GetClusterUnlockKey()); k < minUnlockKeyBytes || k > maxUnlockKeyBytes {
		return nil, nodeError(codes.InvalidArgument, "commit", id, "cluster_unlock_key: %d bytes, want %d to %d", k, minUnlockKeyBytes, maxUnlockKeyBytes)
	}
	var addr net.IP
	if a := req.GetExternalAddress(); a != "" {
		if addr = net.ParseIP(a); addr == nil {
			return nil, nodeError(codes.InvalidArgument, "commit", id, "external_address: %.64q is not an IP address", a)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(ctx, "commit", id)
	if err != nil {
		return nil, err
	}
	if !pub.Equal(ed25519.PublicKey(n.GetPublicKey())) {
		return nil, nodeError(codes.NotFound, "commit", id, "no node has the presented key (another key has this node ID)")
	}
	next, err := commitNode(n, req.GetClusterUnlockKey())
	if err != nil {
		return nil, err
	}
	if next != nil {
		if err := l.storeNode(ctx, next); err != nil {
			return nil, err
		}
		n = next
	}
	cert, err := issueNodeCertificate(l.ca, withAddress(n, addr))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "commit node %s: %v", id, err)
	}
	return &cpb.CommitNodeResponse{NodeCertificate: cert.Raw, CaCertificate: l.ca.Certificate().Raw}, nil
}

func (c *curatorServer) JoinNode(ctx context.Context, req *cpb.JoinNodeRequest) (*cpb.JoinNodeResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkNodeID("join", req.GetNodeId()); err != nil {
		return nil, err
	}
	joinKey, err := provenKey(ctx, fmt.Sprintf("join node %s", req.GetNodeId()), "join key")
	if err != nil {
		return nil, err
	}
	n, err := l.node(ctx, "join", req.GetNodeId())
	if err != nil {
		return nil, err
	}
	unlockKey, err := joinNode(n, joinKey)
	if err != nil {
		return nil, err
	}
	cert, err := issueNodeCertificate(l.ca, n)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "join node %s: %v", n.GetId(), err)
	}
	return &cpb.JoinNodeResponse{ClusterUnlockKey: unlockKey, NodeCertificate: cert.Raw}, nil
}
