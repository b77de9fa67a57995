package curator

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/attestation"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
)

// BootstrapRequest is what the first node of a new cluster hands Bootstrap.
type BootstrapRequest struct {
	// CA is the cluster CA the node created with NewClusterCA (and issued its own etcd
	// certificate from). Bootstrap stores it; from then on only the curator holds it.
	CA *pki.CA
	// OwnerPublicKey is the owner's key from the node's parameters
	// (NodeParameters.cluster_bootstrap.owner_public_key).
	OwnerPublicKey ed25519.PublicKey
	// NodePublicKey and JoinPublicKey are the node's own key and its join key.
	NodePublicKey, JoinPublicKey ed25519.PublicKey
	// ClusterUnlockKey is the cluster half of the node's storage key, which JoinNode hands
	// back on later boots.
	ClusterUnlockKey []byte
	// Address is the node's external IP address (no port): its node certificate is valid for
	// it and it becomes the node's reported address.
	Address string
	// ConsensusCertificate is the etcd certificate the node issued itself from CA, recorded
	// so that it is revoked when the node stops being a member. Optional: a node that does not
	// say leaves its first etcd certificate unrecorded.
	ConsensusCertificate *x509.Certificate
	// AttestationPolicy is what the cluster trusts (ClusterBootstrap.attestation_policy); nil
	// for attestation off.
	AttestationPolicy *apb.AttestationPolicy
	// Attestation is the node's own TPM and a quote of its boot with a nonce of its choosing;
	// nil for a node without a TPM. The cluster trusts the release it shows and pins its EK.
	Attestation *BootstrapAttestation
}

// BootstrapAttestation is the first node's attestation of itself.
type BootstrapAttestation struct {
	TPM      *cpb.TPMIdentity
	Nonce    []byte
	Evidence *cpb.TPMEvidence
}

// BootstrapResult is what the first node gets back.
type BootstrapResult struct {
	ClusterID string
	// NodeCertificate is the node's certificate, for NodePublicKey, from the cluster CA.
	NodeCertificate *x509.Certificate
}

func (r *BootstrapRequest) check() error {
	var errs []error
	if r.CA == nil {
		errs = append(errs, errors.New("BootstrapRequest.CA: missing"))
	}
	for _, k := range []struct {
		name string
		key  ed25519.PublicKey
	}{{"OwnerPublicKey", r.OwnerPublicKey}, {"NodePublicKey", r.NodePublicKey}, {"JoinPublicKey", r.JoinPublicKey}} {
		if err := identity.CheckPublicKey(k.key); err != nil {
			errs = append(errs, fmt.Errorf("BootstrapRequest.%s: %w", k.name, err))
		}
	}
	if k := len(r.ClusterUnlockKey); k < minUnlockKeyBytes || k > maxUnlockKeyBytes {
		errs = append(errs, fmt.Errorf("BootstrapRequest.ClusterUnlockKey: %d bytes, want %d to %d", k, minUnlockKeyBytes, maxUnlockKeyBytes))
	}
	if err := checkNodeStatus(&apb.NodeStatus{ExternalAddress: r.Address}); err != nil {
		errs = append(errs, fmt.Errorf("BootstrapRequest.Address: %w", err))
	}
	return errors.Join(errs...)
}

// Bootstrap creates the cluster's state in a fresh etcd (the first node's one-member cluster,
// whose member must be named by the node ID): the cluster record, the CA, a register ticket,
// and the first node, UP with the consensus member and Kubernetes controller roles. It
// returns the node's certificate.
//
// It may be run again after a crash with the same request: if the cluster was already
// bootstrapped with the same CA, owner and node, it changes nothing and issues the node's
// certificate again. Anything else already stored is an error, never overwritten.
func Bootstrap(ctx context.Context, cl *clientv3.Client, req BootstrapRequest) (*BootstrapResult, error) {
	if err := req.check(); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	id := identity.NodeID(req.NodePublicKey)
	peers, err := bootstrapPeers(ctx, cl, id)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	node := &cpb.NodeRecord{
		Id:            id,
		PublicKey:     req.NodePublicKey,
		JoinPublicKey: req.JoinPublicKey,
		State:         apb.NodeState_NODE_STATE_UP,
		Roles: &cpb.NodeRoles{
			ConsensusMember:      &cpb.ConsensusMember{Peers: peers},
			KubernetesController: &cpb.KubernetesController{},
		},
		Status:           &apb.NodeStatus{ExternalAddress: req.Address, Timestamp: timestamppb.New(time.Now())},
		ClusterUnlockKey: req.ClusterUnlockKey,
	}
	cluster := &cpb.ClusterRecord{ClusterId: clusterIDFromCA(req.CA), OwnerPublicKey: req.OwnerPublicKey, AttestationPolicy: req.AttestationPolicy}
	if err := bootstrapAttestation(cluster, node, req.Attestation, time.Now()); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	ticket, err := newRegisterTicket()
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	ops := []clientv3.Op{clientv3.OpPut(keyRegisterTicket, string(ticket))}
	makers := []func() (clientv3.Op, error){
		func() (clientv3.Op, error) { return putProtoOp(keyCluster, cluster) },
		func() (clientv3.Op, error) { return putCAOp(req.CA) },
		func() (clientv3.Op, error) { return putNodeOp(node) },
		func() (clientv3.Op, error) {
			empty, err := emptyRevocationsOp(req.CA, time.Now())
			return empty.op, err
		},
	}
	if c := req.ConsensusCertificate; c != nil {
		makers = append(makers, func() (clientv3.Op, error) { return recordIssuedOp(id, c) })
	}
	for _, mk := range makers {
		op, err := mk()
		if err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		ops = append(ops, op)
	}
	// Everything or nothing, and only into an empty cluster: a crash leaves no half state.
	resp, err := cl.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(keyCluster), "=", 0)).
		Then(ops...).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("bootstrap: write cluster state to etcd: %w", err)
	}
	if !resp.Succeeded {
		if node, err = checkEarlierBootstrap(ctx, cl, req); err != nil {
			return nil, fmt.Errorf("bootstrap: cluster already bootstrapped: %w", err)
		}
	}
	cert, err := issueNodeCertificate(req.CA, node)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return &BootstrapResult{ClusterID: clusterIDFromCA(req.CA), NodeCertificate: cert}, nil
}

// bootstrapPeers is the first node's etcd member list as its consensus role records it.
func bootstrapPeers(ctx context.Context, cl *clientv3.Client, nodeID string) ([]*cpb.ConsensusPeer, error) {
	list, err := cl.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list etcd members: %w", err)
	}
	var peers []*cpb.ConsensusPeer
	found := false
	for _, m := range list.Members {
		if len(m.PeerURLs) == 0 {
			continue
		}
		found = found || m.Name == nodeID
		peers = append(peers, &cpb.ConsensusPeer{Name: m.Name, Url: m.PeerURLs[0]})
	}
	if !found {
		return nil, fmt.Errorf("etcd has no member named %s: the first node's member must be named by its node ID", nodeID)
	}
	sort.Slice(peers, func(i, j int) bool { return peers[i].Name < peers[j].Name })
	return peers, nil
}

// checkEarlierBootstrap accepts a cluster that was bootstrapped with the same request before
// (a repeated call after a crash) and returns the node as stored.
func checkEarlierBootstrap(ctx context.Context, cl *clientv3.Client, req BootstrapRequest) (*cpb.NodeRecord, error) {
	stored, err := getCACertificate(ctx, cl)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(stored.Raw, req.CA.Certificate().Raw) {
		return nil, fmt.Errorf("it has another CA (fingerprint %s), not %s", pki.Fingerprint(stored), pki.Fingerprint(req.CA.Certificate()))
	}
	cluster, err := getCluster(ctx, cl)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(cluster.GetOwnerPublicKey(), req.OwnerPublicKey) {
		return nil, errors.New("it has another owner key")
	}
	id := identity.NodeID(req.NodePublicKey)
	node, err := getNode(ctx, cl, id)
	if err != nil {
		return nil, err
	}
	if node == nil || !bytes.Equal(node.GetPublicKey(), req.NodePublicKey) {
		return nil, fmt.Errorf("it was bootstrapped by another node, not %s", id)
	}
	return proto.Clone(node).(*cpb.NodeRecord), nil
}

// bootstrapAttestation records the first node's TPM (att, nil if it has none) in node and
// the release it booted in cluster's policy. With attestation required the node must have a
// TPM and its quote must verify; its EK is pinned (the owner chose this machine) and its
// firmware is the baseline of its later joins.
func bootstrapAttestation(cluster *cpb.ClusterRecord, node *cpb.NodeRecord, att *BootstrapAttestation, now time.Time) error {
	policy := cluster.GetAttestationPolicy()
	if err := CheckAttestationPolicy(policy); err != nil {
		return err
	}
	if att == nil {
		if attestationRequired(policy) {
			return errors.New("the attestation policy requires TPM attestation and this node has no TPM")
		}
		return nil
	}
	rec := &cpb.NodeAttestationRecord{
		EkPublic: att.TPM.GetEkPublic(), EkCertificate: att.TPM.GetEkCertificate(), AkPublic: att.TPM.GetAk().GetPublic(),
		// The node made its AK itself, as it made the CA: there is no one else to prove it to.
		Activated: true,
		Status:    &apb.NodeAttestation{EkFingerprint: attestation.EKFingerprint(att.TPM.GetEkPublic()), EkPinned: true},
	}
	m, err := attestation.Verify(rec.AkPublic, evidenceFromProto(att.Evidence), attestation.Expectation{Nonce: att.Nonce, AnyRelease: true})
	if err != nil {
		if !attestationRequired(policy) {
			// Not a reason to refuse a cluster that does not require attestation; the node
			// stays without a TPM record, as if it had none.
			return nil
		}
		return fmt.Errorf("this node's own attestation: %w", err)
	}
	rec.Firmware = map[int32][]byte{}
	for i, v := range m.Firmware {
		rec.Firmware[int32(i)] = v
	}
	rec.Status.Uki = m.UKI
	rec.Status.LastAttested = timestamppb.New(now)
	node.Attestation = rec
	next, _ := trustRelease(cluster, m.UKI)
	cluster.AttestationPolicy = next.GetAttestationPolicy()
	return nil
}
