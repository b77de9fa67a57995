package curator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/pki"
)

// errNotBootstrapped is what a curator started against an empty etcd reports.
var errNotBootstrapped = fmt.Errorf("cluster is not bootstrapped: no %s in etcd", keyCluster)

// clusterIDFromCA names a cluster after its CA, so the name is stable, needs no input at
// bootstrap, and a bootstrap repeated with the same CA yields the same name.
func clusterIDFromCA(ca *pki.CA) string {
	sum := sha256.Sum256(ca.Certificate().Raw)
	return "metropolis-cluster-" + hex.EncodeToString(sum[:6])
}

// getCluster reads the cluster record, or returns errNotBootstrapped.
func getCluster(ctx context.Context, kv clientv3.KV) (*cpb.ClusterRecord, error) {
	var rec cpb.ClusterRecord
	found, err := getProto(ctx, kv, keyCluster, &rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNotBootstrapped
	}
	return &rec, nil
}

// getProto reads key into m and reports whether it exists.
func getProto(ctx context.Context, kv clientv3.KV, key string, m proto.Message) (bool, error) {
	resp, err := kv.Get(ctx, key)
	if err != nil {
		return false, fmt.Errorf("read %s from etcd: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return false, nil
	}
	if err := proto.Unmarshal(resp.Kvs[0].Value, m); err != nil {
		return false, fmt.Errorf("decode %s: %w", key, err)
	}
	return true, nil
}

// putProtoOp is the etcd operation storing m at key.
func putProtoOp(key string, m proto.Message) (clientv3.Op, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return clientv3.Op{}, fmt.Errorf("encode %s: %w", key, err)
	}
	return clientv3.OpPut(key, string(b)), nil
}
