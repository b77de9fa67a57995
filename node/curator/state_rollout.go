package curator

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
)

// getRollout reads the latest rollout and the etcd revision it was last written at (for a
// compare-and-set); nil and 0 if the cluster never had one.
func getRollout(ctx context.Context, kv clientv3.KV) (*apb.Rollout, int64, error) {
	resp, err := kv.Get(ctx, keyRollout)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s from etcd: %w", keyRollout, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, nil
	}
	var r apb.Rollout
	if err := proto.Unmarshal(resp.Kvs[0].Value, &r); err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", keyRollout, err)
	}
	return &r, resp.Kvs[0].ModRevision, nil
}

// rolloutUnchanged is the comparison a rollout write is conditional on: the key still at the
// revision read (0: still absent).
func rolloutUnchanged(modRev int64) clientv3.Cmp {
	return clientv3.Compare(clientv3.ModRevision(keyRollout), "=", modRev)
}
