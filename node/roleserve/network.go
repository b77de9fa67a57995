package roleserve

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/netconfig"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// NetworkControl is the node's network as the platform runs it (osbase/netconfig.Service
// satisfies it): the node sets what its configuration asks for, and learns from its status
// what the link has.
type NetworkControl interface {
	SetIntent(*netconfig.Intent) uint64
	Watch() event.Watcher[*netconfig.Status]
}

// networkIntent is the network configuration c asks for; with no network and no
// nameservers, the boot parameters'.
func networkIntent(c *apb.NodeConfiguration) (*netconfig.Intent, error) {
	n, ns := c.GetNetwork(), c.GetNameservers()
	if n == nil && len(ns) == 0 {
		return &netconfig.Intent{BootUplink: true}, nil
	}
	uplink, extra, err := apb.NodeNetworkOf(n)
	if err != nil {
		return nil, err
	}
	i := &netconfig.Intent{BootUplink: n.GetUplink() == nil, Static: uplink, Extra: *extra}
	for j, s := range ns {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("nameservers[%d]: %w", j, err)
		}
		i.Nameservers = append(i.Nameservers, addr)
	}
	return i, nil
}

// applied is the configuration the node has applied, and what of it failed: what the node
// reports (reportStatus). The configuration counts as applied once the network has it, so
// that a trial is reported only when the node runs with its network.
type applied struct {
	configuration *Configuration
	errors        []string
}

// followNetwork gives the network what the node's configuration asks for, follows the address
// it has (Address), and publishes the configuration as applied once the network has it. Where
// the platform has no network to change (hosted), a configured network is reported as not
// applied.
func (s *Service) followNetwork(ctx context.Context) error {
	logger := supervisor.Logger(ctx)
	changes := make(chan func())
	cw := s.configuration.Watch()
	defer cw.Close()
	var c *Configuration
	go follow(ctx, cw, changes, func(v *Configuration) { c = v })
	var st *netconfig.Status
	if s.cfg.Network != nil {
		sw := s.cfg.Network.Watch()
		defer sw.Close()
		go follow(ctx, sw, changes, func(v *netconfig.Status) { st = v })
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	var last *Configuration
	var want uint64     // the network generation c needs
	var intentErr error // why c's network could not be given to the network
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case apply := <-changes:
			apply()
		}
		if c != last && c != nil {
			last = c
			intent, err := networkIntent(c.Effective)
			intentErr = err
			switch {
			case err != nil:
				logger.Errorf("not applying the network of configuration version %d: %v", c.NodeVersion, err)
			case s.cfg.Network != nil:
				// The stored configuration is the node's network from now on, also at its next
				// boot (a node whose address moved must not come back at its old one); a
				// trial's is not, so a reboot during a trial comes back to the stored one.
				intent.Keep = c.TrialVersion == 0
				want = s.cfg.Network.SetIntent(intent)
			}
		}
		if st != nil {
			if addr := st.PreferredAddress(); addr != nil && !addr.Equal(s.Address()) {
				logger.Infof("the node's address is now %s", addr)
				s.setAddress(addr)
			}
		}
		if c == nil || s.cfg.Network != nil && (st == nil || st.Generation < want) {
			continue
		}
		s.applied.Set(&applied{configuration: c, errors: networkErrors(c.Effective, s.cfg.Network != nil, st, intentErr)})
	}
}

// networkErrors is what the node reports of applying c's network.
func networkErrors(c *apb.NodeConfiguration, controlled bool, st *netconfig.Status, intentErr error) []string {
	var out []string
	if intentErr != nil {
		out = append(out, "network: not applied: "+intentErr.Error())
	}
	if !controlled && (c.GetNetwork() != nil || len(c.GetNameservers()) > 0) {
		out = append(out, "network, nameservers: not applied: the node's network is not its own to change (a hosted node's is its namespace's)")
	}
	if st != nil {
		for _, e := range st.Errors {
			out = append(out, "network: "+e)
		}
	}
	return out
}

// Address is the address the node is reached at: the one it started with, then what its
// network has. It never blocks.
func (s *Service) Address() net.IP {
	if a := s.currentAddress.Load(); a != nil {
		return slices.Clone(*a)
	}
	return s.cfg.Address
}

// setAddress makes addr the node's address (Address, and the watchable address).
func (s *Service) setAddress(addr net.IP) {
	s.currentAddress.Store(&addr)
	s.address.Set(addr)
}
