package core

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/curator"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/roleserve"
)

// pendingBootstrap is kept in the sealed record from the moment the first node decided to
// create the cluster until curator.Bootstrap succeeded, so that a crash in between repeats the
// same bootstrap (it is idempotent) instead of leaving a member without a cluster.
type pendingBootstrap struct {
	OwnerPublicKey   []byte `json:"owner_public_key"`
	ClusterUnlockKey []byte `json:"cluster_unlock_key"`
	CA               []byte `json:"ca"`
	CAKey            []byte `json:"ca_key"`
	// AttestationPolicy is ClusterBootstrap.attestation_policy (protobuf); empty for none.
	AttestationPolicy []byte `json:"attestation_policy,omitempty"`
}

// prepareBootstrap creates what a new cluster starts with: the CA, this node's certificate and
// its etcd certificate. The cluster itself is created by finishBootstrap, once the etcd member
// (started by the role workers) is ready.
func prepareBootstrap(stateDir string, params *apb.ClusterBootstrap, nodeKey ed25519.PrivateKey, addr net.IP, clusterHalf []byte) (*membership, error) {
	pub := nodeKey.Public().(ed25519.PublicKey)
	var policy []byte
	if p := params.GetAttestationPolicy(); p != nil {
		if err := curator.CheckAttestationPolicy(p); err != nil {
			return nil, fmt.Errorf("node parameters: cluster_bootstrap: %w", err)
		}
		var err error
		if policy, err = proto.Marshal(p); err != nil {
			return nil, err
		}
	}
	ca, err := curator.NewClusterCA()
	if err != nil {
		return nil, err
	}
	nodeID := identity.NodeID(pub)
	etcdCert, err := curator.IssueConsensusCertificate(ca, nodeID, pub, addr)
	if err != nil {
		return nil, err
	}
	if err := roleserve.WriteConsensusCertificate(stateDir, etcdCert.Raw); err != nil {
		return nil, err
	}
	nodeCert, err := ca.IssueNodeCertificate(pub, []net.IP{addr}, curator.NodeCertificateValidity)
	if err != nil {
		return nil, err
	}
	caDER, caKey, err := ca.MarshalDER()
	if err != nil {
		return nil, err
	}
	return &membership{
		CACertificate:   caDER,
		NodeCertificate: nodeCert.Raw,
		Curators:        []string{net.JoinHostPort(addr.String(), fmt.Sprint(ports.Curator))},
		Bootstrap: &pendingBootstrap{
			OwnerPublicKey: params.OwnerPublicKey, ClusterUnlockKey: clusterHalf, CA: caDER, CAKey: caKey,
			AttestationPolicy: policy,
		},
	}, nil
}

// bootstrapOnce returns the hook that creates the cluster in the new member's etcd, each time
// the member is ready, until it succeeded once; then it drops the pending bootstrap (and so the
// CA's key) from the sealed record.
func (n *Node) bootstrapOnce(store *sealedStore, pending *pendingBootstrap, nodeKey, joinKey ed25519.PrivateKey, addr net.IP) func(context.Context, *clientv3.Client) error {
	var mu sync.Mutex
	done := pending == nil
	return func(ctx context.Context, cl *clientv3.Client) error {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return nil
		}
		ca, err := pki.ParseCADER(pending.CA, pending.CAKey)
		if err != nil {
			return err
		}
		etcdCert, err := roleserve.ReadConsensusCertificate(n.plat.StateDir())
		if err != nil {
			return err
		}
		var policy *apb.AttestationPolicy
		if len(pending.AttestationPolicy) > 0 {
			policy = &apb.AttestationPolicy{}
			if err := proto.Unmarshal(pending.AttestationPolicy, policy); err != nil {
				return fmt.Errorf("sealed record: bootstrap attestation policy: %w", err)
			}
		}
		self, err := n.selfAttestation(ctx, store.get().AttestationKey)
		if err != nil {
			if policy.GetRequired() {
				return err
			}
			// The cluster does not require attestation: create it, with this node unattested.
			n.logger(ctx).Errorf("%v; creating the cluster without this node's TPM record", err)
			self = nil
		}
		res, err := curator.Bootstrap(ctx, cl, curator.BootstrapRequest{
			ConsensusCertificate: etcdCert,
			AttestationPolicy:    policy,
			Attestation:          self,
			CA:                   ca,
			OwnerPublicKey:       pending.OwnerPublicKey,
			NodePublicKey:        nodeKey.Public().(ed25519.PublicKey),
			JoinPublicKey:        joinKey.Public().(ed25519.PublicKey),
			ClusterUnlockKey:     pending.ClusterUnlockKey,
			Address:              addr.String(),
		})
		if err != nil {
			return err
		}
		if err := store.update(func(r *sealedRecord) { r.Bootstrap = nil }); err != nil {
			return err
		}
		done = true
		n.logger(ctx).Infof("created cluster %s; waiting for its owner to take ownership", res.ClusterID)
		return nil
	}
}
