package core

import (
	"context"
	"net"
	"sync/atomic"

	"metropolis.dev/metropolis/node/timesync"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// clusterTime tells the node's time keeping whom to ask: the cluster's time reference among
// the curators the node knows (timesync.ClusterServers), which it learns as it runs.
type clusterTime struct {
	self     string
	curators atomic.Pointer[[]string]
}

func newClusterTime(curators []string, self net.IP) *clusterTime {
	t := &clusterTime{self: self.String()}
	t.curators.Store(&curators)
	return t
}

func (t *clusterTime) servers() []string {
	s, _ := timesync.ClusterServers(*t.curators.Load(), t.self)
	return s
}

func (t *clusterTime) isReference() bool {
	_, ref := timesync.ClusterServers(*t.curators.Load(), t.self)
	return ref
}

// follow keeps the curators as roleserve learns them.
func (t *clusterTime) follow(curators func() event.Watcher[[]string]) supervisor.Runnable {
	return func(ctx context.Context) error {
		w := curators()
		defer w.Close()
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		for {
			c, err := w.Get(ctx)
			if err != nil {
				return err
			}
			if len(c) > 0 {
				t.curators.Store(&c)
			}
		}
	}
}
