package netconfig

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"

	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// dhcpExchangeTimeout bounds one DISCOVER/OFFER/REQUEST/ACK or one renewal, retries included;
// a failed attempt is retried (acquiring: by the supervisor restarting Run; renewing: in
// renewRetryInterval).
const dhcpExchangeTimeout = 30 * time.Second

// renewRetryInterval is the longest wait between renewal attempts after one failed.
const renewRetryInterval = 30 * time.Second

// runDHCP acquires a lease on link, configures it, and renews it until ctx ends. It returns
// an error (for the supervisor to restart it) when no lease can be had or the lease ends, after
// removing the lease's address.
func (s *Service) runDHCP(ctx context.Context, link netlink.Link) error {
	logger := supervisor.Logger(ctx)
	name := link.Attrs().Name
	client, err := nclient4.New(name,
		nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(4), nclient4.WithLogger(dhcpLogger{logger}))
	if err != nil {
		return fmt.Errorf("DHCP client on %s: %w", name, err)
	}
	defer client.Close()

	logger.Infof("requesting a DHCP lease on %s (%s)", name, link.Attrs().HardwareAddr)
	current, l, err := s.acquire(ctx, client, link)
	if err != nil {
		return err
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)

	clk := s.clock()
	attempted := false
	var lastErr error
	for {
		if l.infinite {
			<-ctx.Done()
			return ctx.Err()
		}
		// current.CreationTime is when the client sent its request, by the real clock; the
		// lease's times are relative to it.
		granted := current.CreationTime
		step := nextRenewalStep(clk.Now(), granted, l, attempted)
		var next *nclient4.Lease
		switch step.action {
		case actWait:
			if err := supervisor.SleepUntil(ctx, clk, step.at); err != nil {
				return err
			}
			continue
		case actGiveUp:
			s.dropLease(logger, link)
			if lastErr == nil {
				lastErr = errors.New("its time ran out before it could be renewed")
			}
			return fmt.Errorf("DHCP lease of %s on %s ended: %w", l.address, name, lastErr)
		case actRenew:
			next, err = renew(ctx, client, current)
		case actRebind:
			next, err = request(ctx, client)
		}
		if err == nil {
			nl, perr := parseLease(next.ACK)
			if perr == nil {
				current, l, attempted, lastErr = next, nl, false, nil
				if err := s.publishLease(link, current, l); err != nil {
					return err
				}
				continue
			}
			err = perr
		}
		var nak *nclient4.ErrNak
		if errors.As(err, &nak) {
			s.dropLease(logger, link)
			return fmt.Errorf("DHCP lease of %s on %s ended: %w", l.address, name, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		attempted, lastErr = true, err
		expiry := granted.Add(l.duration)
		again := retryAt(clk.Now(), expiry)
		logger.Warningf("renewing DHCP lease of %s on %s: %v; retrying in %s (lease ends %s)",
			l.address, name, err, again.Sub(clk.Now()).Round(time.Second), expiry.Format(time.RFC3339))
		if err := supervisor.SleepUntil(ctx, clk, again); err != nil {
			return err
		}
	}
}

// acquire gets a lease and configures the link with it.
func (s *Service) acquire(ctx context.Context, client *nclient4.Client, link netlink.Link) (*nclient4.Lease, *lease, error) {
	current, err := request(ctx, client)
	if err != nil {
		return nil, nil, fmt.Errorf("no DHCP lease on %s: %w", link.Attrs().Name, err)
	}
	l, err := parseLease(current.ACK)
	if err != nil {
		return nil, nil, fmt.Errorf("DHCP lease on %s: %w", link.Attrs().Name, err)
	}
	if err := s.publishLease(link, current, l); err != nil {
		return nil, nil, err
	}
	return current, l, nil
}

// publishLease configures link with l and publishes it.
func (s *Service) publishLease(link netlink.Link, current *nclient4.Lease, l *lease) error {
	st := &Status{DHCP: true}
	if !l.infinite {
		st.LeaseExpiry = current.CreationTime.Add(l.duration)
	}
	return s.configure(link, s.currentIntent().uplinkSettings(l.settings()), st)
}

// dropLease removes the lease's address and routes after it ended, so that the node does not
// keep using an address the server may give to someone else.
func (s *Service) dropLease(logger logtree.LeveledLogger, link netlink.Link) {
	if err := s.configure(link, s.currentIntent().uplinkSettings(settings{}), &Status{DHCP: true}); err != nil {
		logger.Errorf("removing the ended lease's address: %v", err)
	}
}

func request(ctx context.Context, client *nclient4.Client) (*nclient4.Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, dhcpExchangeTimeout)
	defer cancel()
	return client.Request(ctx)
}

func renew(ctx context.Context, client *nclient4.Client, current *nclient4.Lease) (*nclient4.Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, dhcpExchangeTimeout)
	defer cancel()
	return client.Renew(ctx, current)
}

// dhcpLogger sends the DHCP client's messages to the runnable's log.
type dhcpLogger struct{ logtree.LeveledLogger }

func (l dhcpLogger) Printf(format string, v ...any) { l.Infof("DHCP: "+format, v...) }

func (l dhcpLogger) PrintMessage(prefix string, m *dhcpv4.DHCPv4) {
	l.Infof("DHCP: %s %s (xid %s, your address %s, server %s)", prefix, m.MessageType(), m.TransactionID, m.YourIPAddr, m.ServerIdentifier())
}
