package netconfig

import (
	"context"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"k8s.io/utils/clock"

	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/event/memory"
	"metropolis.dev/metropolis/osbase/ipconfig"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Service configures the node's network. Create it with New and run Run under the
// supervisor; watch Status with Watch.
type Service struct {
	config Config
	status memory.Value[*Status]
	// owned is what Run put on the link, kept across restarts of Run (which the supervisor
	// runs one at a time) so that a restarted Run can remove what it no longer wants.
	owned configured
}

// Config is what Service needs.
type Config struct {
	// Static is the link's checked static configuration (see ipconfig.ParseStatic); nil means
	// DHCP on the first Ethernet link with carrier.
	Static *ipconfig.Static
	// ResolvConfPath, if set, is the file the nameservers are written to in resolv.conf(5)
	// format, replaced atomically whenever they change. Empty: no file is written.
	ResolvConfPath string
	// Clock paces DHCP renewals; nil: the real clock.
	Clock clock.Clock
}

func (s *Service) clock() clock.Clock {
	if s.config.Clock == nil {
		return clock.RealClock{}
	}
	return s.config.Clock
}

// New returns a service that is not yet running.
func New(config Config) *Service {
	return &Service{config: config}
}

// Watch follows the link's status. Until the link is configured, Get blocks.
func (s *Service) Watch() event.Watcher[*Status] { return s.status.Watch() }

// Run brings up the loopback link and then the node's link: it waits for the link, configures
// it, signals healthy and keeps it configured (renewing a DHCP lease) until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	logger := supervisor.Logger(ctx)
	if err := bringUpLoopback(); err != nil {
		return err
	}
	var hardwareAddress net.HardwareAddr
	if st := s.config.Static; st != nil {
		hardwareAddress = st.HardwareAddress
	}
	link, err := findLink(ctx, logger, hardwareAddress)
	if err != nil {
		return err
	}
	logger.Infof("configuring link %s (%s)", link.Attrs().Name, link.Attrs().HardwareAddr)
	st := s.config.Static
	if st == nil {
		return s.runDHCP(ctx, link)
	}
	want := settings{addresses: st.Addresses, gateways: st.Gateways, nameservers: st.Nameservers}
	if err := s.configure(link, want, &Status{}); err != nil {
		return err
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	<-ctx.Done()
	return ctx.Err()
}

// configure applies want to link, writes the resolver file and publishes st completed with
// want's values.
func (s *Service) configure(link netlink.Link, want settings, st *Status) error {
	if err := apply(link, want, &s.owned); err != nil {
		return err
	}
	if err := writeResolvConf(s.config.ResolvConfPath, want.nameservers); err != nil {
		return err
	}
	st.Link = link.Attrs().Name
	st.HardwareAddress = link.Attrs().HardwareAddr
	st.Addresses = append([]netip.Prefix(nil), want.addresses...)
	st.Gateways = append([]netip.Addr(nil), want.gateways...)
	st.Nameservers = append([]netip.Addr(nil), want.nameservers...)
	s.status.Set(st)
	return nil
}
