package roleserve

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"metropolis.dev/metropolis/node/timesync"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// TimeSource follows how the node keeps its clock (node/timesync.Service satisfies it).
type TimeSource interface {
	Watch() event.Watcher[*timesync.Status]
}

// serveTime answers NTP requests on the node's address while the node is a consensus member,
// so that a cluster without an outside time server follows one clock (timesync.ClusterServers):
// what it says of its source follows the node's own time keeping.
func (s *Service) serveTime(ctx context.Context) error {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: s.cfg.Address, Port: int(timesync.NTPPort)})
	if err != nil {
		return fmt.Errorf("listen for NTP requests: %w", err)
	}
	defer func() { _ = conn.Close() }()
	var latest atomic.Pointer[timesync.Status]
	w := s.cfg.Time.Watch()
	defer w.Close()
	go func() {
		for {
			st, err := w.Get(ctx)
			if err != nil {
				return
			}
			latest.Store(st)
		}
	}()
	r := &timesync.Responder{Reference: func() timesync.Reference { return timesync.ServedReference(latest.Load(), time.Now()) }}
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	return r.Serve(ctx, conn)
}
