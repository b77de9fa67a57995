package netconfig

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"k8s.io/utils/clock"

	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/event/memory"
	"metropolis.dev/metropolis/osbase/ipconfig"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Service configures the node's network. Create it with New and run Run under the
// supervisor; watch Status with Watch, and change what it configures with SetIntent.
type Service struct {
	config Config
	status memory.Value[*Status]
	intent memory.Value[generation]
	// mu guards generations, current and last.
	mu          sync.Mutex
	generations uint64
	// owned and ownedExtra are what Run put on the links, kept across intents and restarts of
	// Run (which the supervisor runs one at a time) so that a later Run removes what it no
	// longer wants.
	owned      configured
	ownedExtra ownedExtra
	// current is the intent Run works on, last the status published last.
	current generation
	last    *Status
	// remembered says whether the first intent came from Config.MemoryPath; memoryErr is
	// why the memory could not be read or written, reported in Status.Errors until a write
	// succeeds.
	remembered bool
	memoryErr  error
	// linkErrors are what of the current intent the link could not have (Status.Errors
	// without the memory's), uplinkErrors what findUplink could not do (a bond's missing
	// card), part of linkErrors.
	linkErrors   []string
	uplinkErrors []string
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
	// MemoryPath, if set, is where the service keeps the last intent marked Keep, for the
	// next boot (memory.go). A readable one there is the first intent instead of Static's.
	MemoryPath string
}

func (s *Service) clock() clock.Clock {
	if s.config.Clock == nil {
		return clock.RealClock{}
	}
	return s.config.Clock
}

// New returns a service that is not yet running. Its first intent is the one remembered in
// Config.MemoryPath, if there is a usable one, else Config's; a memory that cannot be used is
// reported in Status.Errors and Run's log.
func New(config Config) *Service {
	s := &Service{config: config}
	var first *Intent
	if config.MemoryPath != "" {
		first, s.memoryErr = readMemory(config.MemoryPath, config.Static)
		if s.memoryErr != nil {
			s.memoryErr = fmt.Errorf("the remembered network was not used: %w", s.memoryErr)
		}
		s.remembered = first != nil
	}
	s.SetIntent(first)
	return s
}

// SetIntent changes what the service configures; nil goes back to Config's. Run applies it
// at once, without setting the link down: addresses and routes of the new intent go on before
// those of the old one come off. It returns the intent's generation: Status.Generation
// reaches it once the link has it.
func (s *Service) SetIntent(i *Intent) uint64 {
	if i != nil && i.Keep && s.config.MemoryPath != "" {
		err := remember(s.config.MemoryPath, i)
		if err != nil {
			err = fmt.Errorf("remembering the network for the next boot: %w", err)
		}
		s.mu.Lock()
		s.memoryErr = err
		s.mu.Unlock()
	}
	resolved := &Intent{Static: s.config.Static}
	if i != nil {
		copied := *i
		if copied.BootUplink {
			// Resolved: the boot uplink is now spelled out, so that an intent keeping it
			// equals Config's own (nil) and does not set the link up again.
			copied.Static, copied.BootUplink = s.config.Static, false
		}
		resolved = &copied
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.generations++
	s.intent.Set(generation{Intent: resolved, n: s.generations})
	return s.generations
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
	s.mu.Lock()
	remembered, memoryErr := s.remembered, s.memoryErr
	s.mu.Unlock()
	switch {
	case memoryErr != nil:
		logger.Warningf("%v", memoryErr)
	case remembered:
		logger.Infof("starting with the network remembered in %s (the node's configuration), not the boot parameters'", s.config.MemoryPath)
	}
	link, err := s.findUplink(ctx, logger, intent.Intent)
	if err != nil {
		return err
	}
	logger.Infof("configuring link %s (%s)", link.Attrs().Name, link.Attrs().HardwareAddr)
	for {
		next, err := s.keepUntilChanged(ctx, w, link, intent)
		if err != nil {
			return err
		}
		if why := uplinkChange(intent.Intent, next.Intent, link.Attrs().HardwareAddr); why != "" {
			return fmt.Errorf("%s; restarting on the new uplink (was %s)", why, link.Attrs().Name)
		}
		logger.Infof("the network's configuration changed; applying it to %s", link.Attrs().Name)
		intent = next
	}
}

// findUplink returns the link intent's uplink is, set up: the bond it asks for, made from its
// cards, or else the card it names (or the first with carrier), after removing a bond an
// earlier intent made.
func (s *Service) findUplink(ctx context.Context, logger logtree.LeveledLogger, intent *Intent) (netlink.Link, error) {
	var problems []string
	defer func() {
		s.mu.Lock()
		s.uplinkErrors = problems
		s.mu.Unlock()
	}()
	if b := intent.Extra.Bond; b != nil {
		link, p, err := makeBond(ctx, logger, *b)
		problems = p
		return link, err
	}
	if err := releaseBond(logger); err != nil {
		return nil, err
	}
	return findLink(ctx, logger, intent.hardwareAddress())
}

// keepUntilChanged configures link as intent says and keeps it so until the intent changes,
// returning the new one, or until keeping it fails (a DHCP lease ends).
func (s *Service) keepUntilChanged(ctx context.Context, w event.Watcher[generation], link netlink.Link, intent generation) (generation, error) {
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.current = intent
	s.mu.Unlock()
	kept := make(chan error, 1)
	go func() { kept <- s.keep(kctx, link, intent) }()
	// The watcher is the one goroutine's below until it is done; Run uses it again after.
	changed := make(chan generation, 1)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			next, err := w.Get(kctx)
			if err != nil {
				return
			}
			if !next.Equal(intent.Intent) {
				changed <- next
				return
			}
			// The same network again: the link has it already.
			s.confirmGeneration(next)
		}
	}()
	select {
	case err := <-kept:
		cancel()
		<-watched
		if ctx.Err() != nil {
			return generation{}, ctx.Err()
		}
		return generation{}, err
	case next := <-changed:
		cancel()
		<-kept
		<-watched
		return next, nil
	}
}

// keep configures link statically or by DHCP, as intent says, until ctx ends.
func (s *Service) keep(ctx context.Context, link netlink.Link, intent generation) error {
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
	s.mu.Lock()
	errs := append([]string(nil), s.uplinkErrors...)
	s.mu.Unlock()
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
	st.NTPServers = append([]netip.Addr(nil), want.ntpServers...)
	st.Extra = want.extra
	s.mu.Lock()
	defer s.mu.Unlock()
	s.linkErrors = errs
	st.Errors = withMemoryError(errs, s.memoryErr)
	st.Generation = s.current.n
	s.last = st
	s.status.Set(st)
	return nil
}

// confirmGeneration makes next, an intent equal to the one the link has, the current one, and
// publishes the status again with its generation.
func (s *Service) confirmGeneration(next generation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = next
	if s.last == nil {
		return
	}
	st := *s.last
	st.Generation = next.n
	st.Errors = withMemoryError(s.linkErrors, s.memoryErr)
	s.last = &st
	s.status.Set(&st)
}

// withMemoryError is errs, and the memory's error after them if there is one.
func withMemoryError(errs []string, memoryErr error) []string {
	out := append([]string(nil), errs...)
	if memoryErr != nil {
		out = append(out, memoryErr.Error())
	}
	return out
}

// currentIntent is the intent Run works on.
func (s *Service) currentIntent() *Intent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current.Intent
}
