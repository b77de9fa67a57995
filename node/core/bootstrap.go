package core

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"

	clientv3 "go.etcd.io/etcd/client/v3"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/curator"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/roleserve"
)

// pendingBootstrap is kept in the membership record from the moment the first node decided to
// create the cluster until curator.Bootstrap succeeded, so that a crash in between repeats the
// same bootstrap (it is idempotent) instead of leaving a member without a cluster.
type pendingBootstrap struct {
	OwnerPublicKey   []byte `json:"owner_public_key"`
	ClusterUnlockKey []byte `json:"cluster_unlock_key"`
	CA               []byte `json:"ca"`
	CAKey            []byte `json:"ca_key"`
}

// prepareBootstrap creates what a new cluster starts with: the CA, this node's certificate and
// its etcd certificate. The cluster itself is created by finishBootstrap, once the etcd member
// (started by the role workers) is ready.
func prepareBootstrap(stateDir string, params *apb.ClusterBootstrap, nodeKey ed25519.PrivateKey, addr net.IP) (*membership, error) {
	pub := nodeKey.Public().(ed25519.PublicKey)
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
	clusterHalf, nodeHalf := make([]byte, storageKeyHalfSize), make([]byte, storageKeyHalfSize)
	if _, err := rand.Read(clusterHalf); err != nil {
		return nil, err
	}
	if _, err := rand.Read(nodeHalf); err != nil {
		return nil, err
	}
	return &membership{
		CACertificate:      caDER,
		NodeCertificate:    nodeCert.Raw,
		Curators:           []string{net.JoinHostPort(addr.String(), fmt.Sprint(ports.Curator))},
		StorageKeyNodeHalf: nodeHalf,
		Bootstrap: &pendingBootstrap{
			OwnerPublicKey: params.OwnerPublicKey, ClusterUnlockKey: clusterHalf, CA: caDER, CAKey: caKey,
		},
	}, nil
}

// finishBootstrap creates the cluster in the new member's etcd and clears the pending record.
// It runs each time the member is ready until it succeeded once.
func (n *Node) finishBootstrap(ctx context.Context, stateDir string, m *membership, cl *clientv3.Client, nodeKey, joinKey ed25519.PrivateKey, addr net.IP) error {
	if m.Bootstrap == nil {
		return nil
	}
	ca, err := pki.ParseCADER(m.Bootstrap.CA, m.Bootstrap.CAKey)
	if err != nil {
		return err
	}
	res, err := curator.Bootstrap(ctx, cl, curator.BootstrapRequest{
		CA:               ca,
		OwnerPublicKey:   m.Bootstrap.OwnerPublicKey,
		NodePublicKey:    nodeKey.Public().(ed25519.PublicKey),
		JoinPublicKey:    joinKey.Public().(ed25519.PublicKey),
		ClusterUnlockKey: m.Bootstrap.ClusterUnlockKey,
		Address:          addr.String(),
	})
	if err != nil {
		return err
	}
	m.Bootstrap = nil
	if err := saveMembership(stateDir, m); err != nil {
		return err
	}
	n.logger(ctx).Infof("created cluster %s; waiting for its owner to take ownership", res.ClusterID)
	return nil
}
