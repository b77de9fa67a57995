package curator

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

// WatchClusterConfiguration sends the cluster's configuration, then each change of it, until
// the caller ends the call or the leadership ends.
func (c *curatorServer) WatchClusterConfiguration(_ *cpb.WatchClusterConfigurationRequest, srv cpb.Curator_WatchClusterConfigurationServer) error {
	l, _, err := callingNode(srv.Context(), "watch the cluster configuration for")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(srv.Context())
	defer cancel()
	stop := context.AfterFunc(l.ctx, cancel)
	defer stop()
	return l.streamEnded(watchClusterConfiguration(ctx, l.etcd(), srv.Send))
}

// watchClusterConfiguration sends the configuration in the cluster record, then every
// change of it, until ctx ends.
func watchClusterConfiguration(ctx context.Context, cl *clientv3.Client, send func(*apb.StoredClusterConfiguration) error) error {
	resp, err := cl.Get(ctx, keyCluster)
	if err != nil {
		return status.Errorf(codes.Unavailable, "watch the cluster configuration: read the cluster record: %v", err)
	}
	var rec cpb.ClusterRecord
	if len(resp.Kvs) == 1 {
		if err := proto.Unmarshal(resp.Kvs[0].Value, &rec); err != nil {
			return status.Errorf(codes.Internal, "watch the cluster configuration: decode the cluster record: %v", err)
		}
	}
	last := storedClusterConfiguration(&rec)
	if err := send(last); err != nil {
		return err
	}
	for wr := range cl.Watch(ctx, keyCluster, clientv3.WithRev(resp.Header.Revision+1)) {
		if err := wr.Err(); err != nil {
			return status.Errorf(codes.Unavailable, "watch the cluster configuration: etcd watch failed: %v", err)
		}
		for _, e := range wr.Events {
			if e.Type != clientv3.EventTypePut {
				continue
			}
			var rec cpb.ClusterRecord
			if err := proto.Unmarshal(e.Kv.Value, &rec); err != nil {
				return status.Errorf(codes.Internal, "watch the cluster configuration: decode the cluster record: %v", err)
			}
			next := storedClusterConfiguration(&rec)
			if proto.Equal(next, last) {
				continue // another part of the cluster record changed
			}
			last = next
			if err := send(next); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unavailable, "watch the cluster configuration: etcd watch ended")
}
