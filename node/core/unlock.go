package core

import (
	"context"
	"errors"
	"fmt"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/pki"
)

// errNoClusterNoParameters is what a node says that has never been part of a cluster and was
// given nothing to become part of one.
var errNoClusterNoParameters = errors.New("this node belongs to no cluster and has no node parameters: give it bootstrap or register parameters")

// openStorage makes the node's data available at the platform's StateDir and returns the
// store of its sealed record. On the first start it creates the storage under a fresh key;
// later it derives the key from the sealed node half and the cluster half, which it holds
// itself only while registering or while a consensus member, and otherwise gets from the
// cluster by joining (joined is the cluster's answer then, nil otherwise).
func (n *Node) openStorage(ctx context.Context) (store *sealedStore, joined *cpb.JoinNodeResponse, err error) {
	logger := n.logger(ctx)
	st := n.plat.Storage()
	data, err := st.ReadSealed()
	if err != nil {
		return nil, nil, err
	}
	if data == nil {
		params, err := n.plat.Parameters()
		if err != nil {
			return nil, nil, err
		}
		if params == nil {
			return nil, nil, errNoClusterNoParameters
		}
		rec, err := newSealedRecord()
		if err != nil {
			return nil, nil, err
		}
		key, err := storageKey(rec.NodeHalf, rec.ClusterHalf)
		if err != nil {
			return nil, nil, err
		}
		logger.Infof("first start: creating this node's data storage")
		if err := st.Create(ctx, key); err != nil {
			return nil, nil, fmt.Errorf("create data storage: %w", err)
		}
		store = &sealedStore{storage: st, clusterHalf: rec.ClusterHalf}
		return store, nil, store.update(func(r *sealedRecord) { *r = *rec })
	}
	rec, err := parseSealedRecord(data)
	if err != nil {
		return nil, nil, err
	}
	clusterHalf := rec.ClusterHalf
	if clusterHalf == nil {
		joinKey, err := rec.joinKey()
		if err != nil {
			return nil, nil, err
		}
		ca, err := pki.ParseCertificateDER(rec.CACertificate)
		if err != nil {
			return nil, nil, fmt.Errorf("sealed record: ca_certificate: %w", err)
		}
		logger.Infof("asking the cluster at %v for this node's half of the storage key", rec.Curators)
		if joined, err = joinUntilAccepted(ctx, ca, rec.Curators, rec.NodeID, joinKey, n.quoterFor(rec.AttestationKey)); err != nil {
			return nil, nil, err
		}
		clusterHalf = joined.ClusterUnlockKey
	}
	key, err := storageKey(rec.NodeHalf, clusterHalf)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster half from the cluster: %w", err)
	}
	if err := st.Unlock(ctx, key); err != nil {
		return nil, nil, fmt.Errorf("unlock data storage: %w", err)
	}
	logger.Infof("data storage unlocked")
	return &sealedStore{storage: st, current: *rec, clusterHalf: clusterHalf}, joined, nil
}
