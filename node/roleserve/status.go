package roleserve

import (
	"context"
	"fmt"
	"net"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/curator"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/timesync"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// statusRefresh is how often the status is reported even if nothing changed, so that a new
// leader (which keeps statuses in etcd, but may have missed one) converges.
const statusRefresh = 30 * time.Second

// heartbeat tells the curator leader that this node is alive, every curator.HeartbeatInterval.
// The stream ends with a leader change; the supervisor then opens a new one.
func (s *Service) heartbeat(ctx context.Context, cur cpb.CuratorClient) error {
	stream, err := cur.Heartbeat(ctx)
	if err != nil {
		return fmt.Errorf("open heartbeat stream: %w", err)
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	ticker := time.NewTicker(curator.HeartbeatInterval)
	defer ticker.Stop()
	for {
		if err := stream.Send(&cpb.HeartbeatUpdateRequest{}); err != nil {
			s.heartbeats.WithLabelValues("failed").Inc()
			return fmt.Errorf("send heartbeat: %w", err)
		}
		if _, err := stream.Recv(); err != nil {
			s.heartbeats.WithLabelValues("failed").Inc()
			return fmt.Errorf("heartbeat answer: %w", err)
		}
		s.heartbeats.WithLabelValues("answered").Inc()
		s.heartbeating.Set(true)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// reportStatus reports the node's address, whether it runs a curator, what software it runs,
// which rollout bundles it keeps and how it keeps its clock, whenever that changes and every
// statusRefresh.
func (s *Service) reportStatus(ctx context.Context, cur cpb.CuratorClient) error {
	changes := make(chan func())
	w := s.curatorRunning.Watch()
	defer w.Close()
	running := false
	go follow(ctx, w, changes, func(v bool) { running = v })
	var software *apb.NodeSoftware
	if s.cfg.Software != nil {
		sw := s.cfg.Software.Software()
		defer sw.Close()
		go follow(ctx, sw, changes, func(v *apb.NodeSoftware) { software = v })
	}
	var kept [][]byte
	if s.cfg.Bundles != nil {
		kw := s.cfg.Bundles.Watch()
		defer kw.Close()
		go follow(ctx, kw, changes, func(v [][]byte) { kept = v })
	}
	var clock *apb.TimeSyncStatus
	if s.cfg.Time != nil {
		tw := s.cfg.Time.Watch()
		defer tw.Close()
		go follow(ctx, tw, changes, func(v *timesync.Status) { clock = v.Proto() })
	}
	var config *apb.NodeConfigurationStatus
	cw := s.applied.Watch()
	defer cw.Close()
	go follow(ctx, cw, changes, func(v *applied) { config = configurationStatus(v, time.Now()) })
	address := s.Address()
	aw := s.address.Watch()
	defer aw.Close()
	go follow(ctx, aw, changes, func(v net.IP) { address = v })
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	for {
		st := &apb.NodeStatus{ExternalAddress: address.String(), Timestamp: timestamppb.Now(), Software: software, TimeSync: clock, Configuration: config}
		if software != nil && len(kept) > 0 {
			st.Software = proto.Clone(software).(*apb.NodeSoftware)
			st.Software.KeptBundles = kept
		}
		if running {
			st.RunningCurator = &apb.NodeStatus_RunningCurator{Port: int32(ports.Curator)}
		}
		if _, err := cur.UpdateNodeStatus(ctx, &cpb.UpdateNodeStatusRequest{Status: st}); err != nil {
			return fmt.Errorf("report status: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case apply := <-changes:
			apply()
		case <-time.After(statusRefresh):
		}
	}
}

// follow sends each new value of w to changes as a function that stores it with set, which
// the receiving loop calls: the values are only touched by that loop.
func follow[T any](ctx context.Context, w event.Watcher[T], changes chan<- func(), set func(T)) {
	for {
		v, err := w.Get(ctx)
		if err != nil {
			return
		}
		select {
		case changes <- func() { set(v) }:
		case <-ctx.Done():
			return
		}
	}
}
