package netconfig

import (
	"bytes"
	"context"
	"fmt"
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
// supervisor; watch Status with Watch, and change what it configures with SetIntent.
type Service struct {
	config Config
	status memory.Value[*Status]
	intent memory.Value[*Intent]
	// owned and ownedExtra are what Run put on the links, kept across intents and restarts of
	// Run (which the supervisor runs one at a time) so that a later Run removes what it no
	// longer wants.
	owned      configured
	ownedExtra ownedExtra
	// current is the intent Run works on; only Run's goroutines use it.
	current *Intent
}

// Config is what Service needs.
type Config struct {
	// Static is the link's checked static configuration (see ipconfig.ParseStatic); nil means
	// DHCP on the first Ethernet link with carrier. It is the first intent, until SetIntent.
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
	s := &Service{config: config}
	s.intent.Set(s.bootIntent())
	return s
}

func (s *Service) bootIntent() *Intent { return &Intent{Static: s.config.Static} }

// SetIntent changes what the service configures; nil goes back to Config's. Run applies it
// at once, without setting the link down: addresses and routes of the new intent go on before
// those of the old one come off.
func (s *Service) SetIntent(i *Intent) {
	if i == nil {
		i = s.bootIntent()
	}
	s.intent.Set(i)
}

// Watch follows the link's status. Until the link is configured, Get blocks.
func (s *Service) Watch() event.Watcher[*Status] { return s.status.Watch() }

// Run brings up the loopback link and then the node's link: it waits for the link, configures
// it, signals healthy and keeps it configured (renewing a DHCP lease, following SetIntent)
// until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	logger := supervisor.Logger(ctx)
	if err := bringUpLoopback(); err != nil {
		return err
	}
	w := s.intent.Watch()
	defer w.Close()
	intent, err := w.Get(ctx)
	if err != nil {
		return err
	}
	link, err := findLink(ctx, logger, intent.hardwareAddress())
	if err != nil {
		return err
	}
	logger.Infof("configuring link %s (%s)", link.Attrs().Name, link.Attrs().HardwareAddr)
	for {
		next, err := s.keepUntilChanged(ctx, w, link, intent)
		if err != nil {
			return err
		}
		if hw := next.hardwareAddress(); hw != nil && !bytes.Equal(hw, link.Attrs().HardwareAddr) {
			// The uplink moves to another card: start over on it.
			return fmt.Errorf("the uplink moves from %s (%s) to the link with hardware address %s; restarting on it",
				link.Attrs().Name, link.Attrs().HardwareAddr, net.HardwareAddr(hw))
		}
		logger.Infof("the network's configuration changed; applying it to %s", link.Attrs().Name)
		intent = next
	}
}

// keepUntilChanged configures link as intent says and keeps it so until the intent changes,
// returning the new one, or until keeping it fails (a DHCP lease ends).
func (s *Service) keepUntilChanged(ctx context.Context, w event.Watcher[*Intent], link netlink.Link, intent *Intent) (*Intent, error) {
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.current = intent
	kept := make(chan error, 1)
	go func() { kept <- s.keep(kctx, link, intent) }()
	// The watcher is the one goroutine's below until it is done; Run uses it again after.
	changed := make(chan *Intent, 1)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			next, err := w.Get(kctx)
			if err != nil {
				return
			}
			if !next.Equal(intent) {
				changed <- next
				return
			}
		}
	}()
	select {
	case err := <-kept:
		cancel()
		<-watched
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	case next := <-changed:
		cancel()
		<-kept
		<-watched
		return next, nil
	}
}

// keep configures link statically or by DHCP, as intent says, until ctx ends.
func (s *Service) keep(ctx context.Context, link netlink.Link, intent *Intent) error {
	if intent.Static == nil {
		return s.runDHCP(ctx, link)
	}
	st := intent.Static
	want := intent.uplinkSettings(settings{addresses: st.Addresses, gateways: st.Gateways, nameservers: st.Nameservers})
	if err := s.configure(link, want, &Status{}); err != nil {
		return err
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	<-ctx.Done()
	return ctx.Err()
}

// configure applies want to link (its MTU, addresses and default routes, then the VLANs and
// routes of want.extra), writes the resolver file and publishes st completed with want's
// values. A VLAN or route that cannot be made is reported in st.Errors, not returned.
func (s *Service) configure(link netlink.Link, want settings, st *Status) error {
	var errs []string
	if err := applyMTU(link, want.extra.MTU, &s.ownedExtra); err != nil {
		errs = append(errs, err.Error())
	}
	if err := apply(link, want, &s.owned); err != nil {
		return err
	}
	for _, err := range applyExtra(link, want.extra, &s.ownedExtra) {
		errs = append(errs, err.Error())
	}
	if err := writeResolvConf(s.config.ResolvConfPath, want.nameservers); err != nil {
		return err
	}
	st.Link = link.Attrs().Name
	st.HardwareAddress = link.Attrs().HardwareAddr
	st.Addresses = append([]netip.Prefix(nil), want.addresses...)
	st.Gateways = append([]netip.Addr(nil), want.gateways...)
	st.Nameservers = append([]netip.Addr(nil), want.nameservers...)
	st.Extra = want.extra
	st.Errors = errs
	s.status.Set(st)
	return nil
}
