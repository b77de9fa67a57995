package curator

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"time"

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
	policy, err := l.attestationPolicy(ctx)
	if err != nil {
		return nil, err
	}
	att, cred, err := registerAttestation("register", id, existing.GetAttestation(), req.GetTpm(), attestationRequired(policy))
	if err != nil {
		return nil, err
	}
	if att != nil {
		// A new challenge with every registration: the node proves the last one at commit.
		if next == nil {
			next = clone(existing)
		}
		if old := existing.GetAttestation(); old != nil {
			att.Status.EkPinned = old.GetStatus().GetEkPinned()
		}
		next.Attestation = att
	}
	if next != nil {
		if err := l.storeNode(ctx, next); err != nil {
			return nil, err
		}
	}
	res := &cpb.RegisterNodeResponse{}
	if cred != nil {
		res.Credential = &cpb.EncryptedCredential{Credential: cred.Credential, Secret: cred.Secret}
	}
	return res, nil
}

// attestationPolicy reads the cluster's attestation policy; nil if there is none (off).
func (l *leader) attestationPolicy(ctx context.Context) (*apb.AttestationPolicy, error) {
	c, err := getCluster(ctx, l.etcd())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "read the cluster record: %v", err)
	}
	return c.GetAttestationPolicy(), nil
}

// commitAttestation decides the attestation part of CommitNode for node n: the activation of
// its registration challenge and a quote of its boot. It returns the record to store with the
// commit, or an error after storing the refusal in the node's record.
func (l *leader) commitAttestation(ctx context.Context, n *cpb.NodeRecord, req *cpb.CommitNodeRequest) (*cpb.NodeAttestationRecord, error) {
	policy, err := l.attestationPolicy(ctx)
	if err != nil {
		return nil, err
	}
	rec := n.GetAttestation()
	if rec == nil {
		if attestationRequired(policy) {
			return nil, nodeError(codes.PermissionDenied, "commit", n.GetId(), "attestation refused: the cluster requires TPM attestation and the node registered without a TPM")
		}
		return nil, nil
	}
	if len(req.GetActivationSecret()) == 0 {
		if attestationRequired(policy) {
			return nil, nodeError(codes.PermissionDenied, "commit", n.GetId(), "attestation refused: the node sent no activation secret for its registration's challenge")
		}
		return rec, nil
	}
	now := time.Now()
	next, err := activate(rec, req.GetActivationSecret())
	if err == nil {
		next, err = attestNode(next, policy, req.GetEvidence(), CommitNonce(req.GetActivationSecret()), now)
	} else {
		next = refused(rec, err, now)
	}
	if err != nil {
		if !attestationRequired(policy) {
			// Kept for the operator, who may turn attestation on later; not a reason to
			// refuse a node the cluster does not require to attest.
			return next, nil
		}
		return nil, l.keepRefusal(ctx, "commit", n, next, err)
	}
	return next, nil
}

// keepRefusal stores the refusal next (node n's attestation record with its cause) and
// returns the error the node gets.
func (l *leader) keepRefusal(ctx context.Context, step string, n *cpb.NodeRecord, next *cpb.NodeAttestationRecord, refusal error) error {
	rec := clone(n)
	rec.Attestation = next
	if err := l.storeNode(ctx, rec); err != nil {
		return err
	}
	return errAttestation(step, n.GetId(), refusal)
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
	att, err := l.commitAttestation(ctx, n, req)
	if err != nil {
		return nil, err
	}
	if att != nil && !proto.Equal(att, n.GetAttestation()) {
		if next == nil {
			next = clone(n)
		}
		next.Attestation = att
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
	if err := l.joinAttestation(ctx, n, req.GetEvidence()); err != nil {
		return nil, err
	}
	cert, err := issueNodeCertificate(l.ca, n)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "join node %s: %v", n.GetId(), err)
	}
	return &cpb.JoinNodeResponse{ClusterUnlockKey: unlockKey, NodeCertificate: cert.Raw}, nil
}

// joinAttestation decides the attestation part of JoinNode for node n (whose join key the
// caller proved): with attestation required, a quote with the nonce GetJoinNonce gave it,
// showing a trusted release and the node's firmware. The outcome is kept in the node's record.
func (l *leader) joinAttestation(ctx context.Context, n *cpb.NodeRecord, ev *cpb.TPMEvidence) error {
	policy, err := l.attestationPolicy(ctx)
	if err != nil {
		return err
	}
	if !attestationRequired(policy) {
		return nil
	}
	if n.GetAttestation() == nil {
		return nodeError(codes.PermissionDenied, "join", n.GetId(), "attestation refused: the cluster requires TPM attestation and knows no TPM of this node")
	}
	now := time.Now()
	nonce := l.joinNonces.take(n.GetId(), now)
	if nonce == nil && ev != nil {
		return nodeError(codes.FailedPrecondition, "join", n.GetId(), "no join nonce outstanding at this curator (expired, used, or given by another leader): call GetJoinNonce again")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// The record again, under the lock: the outcome is stored on top of it.
	n, err = l.node(ctx, "join", n.GetId())
	if err != nil {
		return err
	}
	next, err := attestNode(n.GetAttestation(), policy, ev, nonce, now)
	if err != nil {
		return l.keepRefusal(ctx, "join", n, next, err)
	}
	rec := clone(n)
	rec.Attestation = next
	return l.storeNode(ctx, rec)
}

// GetJoinNonce gives a node the nonce of its next JoinNode quote.
func (c *curatorServer) GetJoinNonce(ctx context.Context, req *cpb.GetJoinNonceRequest) (*cpb.GetJoinNonceResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkNodeID("get join nonce for", req.GetNodeId()); err != nil {
		return nil, err
	}
	joinKey, err := provenKey(ctx, fmt.Sprintf("get join nonce for node %s", req.GetNodeId()), "join key")
	if err != nil {
		return nil, err
	}
	n, err := l.node(ctx, "get join nonce for", req.GetNodeId())
	if err != nil {
		return nil, err
	}
	if _, err := joinNode(n, joinKey); err != nil {
		return nil, err
	}
	if n.GetAttestation() == nil {
		return nil, nodeError(codes.FailedPrecondition, "get join nonce for", n.GetId(), "the cluster knows no TPM of this node: join without a quote")
	}
	nonce, err := l.joinNonces.issue(n.GetId(), time.Now())
	if err != nil {
		return nil, status.Errorf(codes.Internal, "join nonce: %v", err)
	}
	return &cpb.GetJoinNonceResponse{Nonce: nonce}, nil
}
