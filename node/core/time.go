package core

import (
	"context"
	"net"
	"slices"
	"strconv"
	"sync/atomic"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/roleserve"
	"metropolis.dev/metropolis/node/timesync"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// clusterTime tells the node's time keeping whom to ask: the NTP servers of its configuration
// if it names any, else the cluster's time reference among the curators the node knows
// (timesync.ClusterServers), which it learns as it runs.
type clusterTime struct {
	self     string
	curators atomic.Pointer[[]string]
	// configured are the servers of the node's configuration (host:port); empty: none.
	configured atomic.Pointer[[]string]
	// member says this node is a consensus member, so it runs a curator and is a candidate for
	// the reference even when the curator list it knows lacks it: a list saved while it was
	// away (rebooting into an update), or learned before its own curator reported. Without it,
	// the lowest member would follow the next one, which follows it back.
	member atomic.Bool
}

func newClusterTime(curators []string, self net.IP) *clusterTime {
	t := &clusterTime{self: self.String()}
	t.curators.Store(&curators)
	return t
}

// candidates are the curators to pick the reference from.
func (t *clusterTime) candidates() []string {
	list := *t.curators.Load()
	if !t.member.Load() {
		return list
	}
	for _, c := range list {
		if host, _, err := net.SplitHostPort(c); err == nil && host == t.self {
			return list
		}
	}
	return append(slices.Clone(list), net.JoinHostPort(t.self, strconv.Itoa(int(ports.Curator))))
}

func (t *clusterTime) servers() []string {
	if c := t.configured.Load(); c != nil && len(*c) > 0 {
		return *c
	}
	s, _ := timesync.ClusterServers(t.candidates(), t.self)
	return s
}

// followRoles keeps whether this node is a consensus member.
func (t *clusterTime) followRoles(roles func() event.Watcher[*cpb.NodeRoles]) supervisor.Runnable {
	return func(ctx context.Context) error {
		w := roles()
		defer w.Close()
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		for {
			r, err := w.Get(ctx)
			if err != nil {
				return err
			}
			if r != nil {
				t.member.Store(r.GetConsensusMember() != nil)
			}
		}
	}
}

// isReference: a node with configured servers follows them, the reference included.
func (t *clusterTime) isReference() bool {
	if c := t.configured.Load(); c != nil && len(*c) > 0 {
		return false
	}
	_, ref := timesync.ClusterServers(t.candidates(), t.self)
	return ref
}

// followConfiguration keeps the NTP servers of the node's configuration.
func (t *clusterTime) followConfiguration(config func() event.Watcher[*roleserve.Configuration], clock *timesync.Service) supervisor.Runnable {
	return func(ctx context.Context) error {
		w := config()
		defer w.Close()
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		for {
			c, err := w.Get(ctx)
			if err != nil {
				return err
			}
			servers := timesync.WithPort(c.Effective.GetNtpServers())
			if old := t.configured.Swap(&servers); old == nil && len(servers) > 0 || old != nil && !slices.Equal(*old, servers) {
				supervisor.Logger(ctx).Infof("time servers from the configuration: %v (none: the cluster's time reference)", servers)
				clock.Resync()
			}
		}
	}
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
