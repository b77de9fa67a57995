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
	"metropolis.dev/metropolis/osbase/netconfig"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// clusterTime tells the node's time keeping whom to ask: the NTP servers of its configuration
// if it names any, else those of its DHCP lease (option 42), else the cluster's time reference
// among the curators the node knows (timesync.ClusterServers), which it learns as it runs.
type clusterTime struct {
	self     string
	curators atomic.Pointer[[]string]
	// configured are the servers of the node's configuration (host:port); empty: none.
	configured atomic.Pointer[[]string]
	// dhcp are the servers of the node's DHCP lease (host:port); empty: none.
	dhcp atomic.Pointer[[]string]
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
	if outside := t.outside(); len(outside) > 0 {
		return outside
	}
	s, _ := timesync.ClusterServers(t.candidates(), t.self)
	return s
}

// outside are the servers outside the cluster the node keeps time with: its configuration's,
// else its DHCP lease's; none: the cluster's reference.
func (t *clusterTime) outside() []string {
	for _, p := range []*atomic.Pointer[[]string]{&t.configured, &t.dhcp} {
		if c := p.Load(); c != nil && len(*c) > 0 {
			return *c
		}
	}
	return nil
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

// peers are the other consensus members, whom the node asks for the cluster's time when it
// becomes the reference.
func (t *clusterTime) peers() []string { return timesync.ClusterPeers(t.candidates(), t.self) }

// isReference: a node with servers of its own (configured, or its DHCP lease's) follows them,
// the reference included.
func (t *clusterTime) isReference() bool {
	if len(t.outside()) > 0 {
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

// followDHCP keeps the NTP servers of the node's DHCP lease.
func (t *clusterTime) followDHCP(network *netconfig.Service, clock *timesync.Service) supervisor.Runnable {
	return func(ctx context.Context) error {
		w := network.Watch()
		defer w.Close()
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		for {
			st, err := w.Get(ctx)
			if err != nil {
				return err
			}
			var hosts []string
			for _, a := range st.NTPServers {
				hosts = append(hosts, a.String())
			}
			servers := timesync.WithPort(hosts)
			if old := t.dhcp.Swap(&servers); old == nil && len(servers) > 0 || old != nil && !slices.Equal(*old, servers) {
				supervisor.Logger(ctx).Infof("time servers from the DHCP lease: %v (used when the configuration names none)", servers)
				clock.Resync()
			}
		}
	}
}
