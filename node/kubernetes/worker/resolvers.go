package worker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"metropolis.dev/metropolis/osbase/supervisor"
)

// defaultResolvConf is where the node's network configuration writes its resolvers
// (osbase/netconfig, on the image).
const defaultResolvConf = "/etc/resolv.conf"

// upstreamResolvers returns the nameservers of the resolv.conf at path as host:53 addresses,
// for the cluster DNS to forward names outside the cluster to. A missing file means none (the
// node has no resolvers: outside names are then refused). DNSAddress itself is left out: the
// cluster DNS must never forward to itself.
func upstreamResolvers(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("node resolvers: %w", err)
	}
	return parseNameservers(data), nil
}

// parseNameservers reads "nameserver ADDRESS" lines; others, and addresses that are not IPs
// (resolv.conf has no other syntax for them), are ignored as the C library does.
func parseNameservers(data []byte) []string {
	var servers []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		addr, err := netip.ParseAddr(fields[1])
		if err != nil || addr.String() == DNSAddress {
			continue
		}
		servers = append(servers, net.JoinHostPort(addr.String(), "53"))
	}
	return servers
}

// resolversInterval is how often the node's resolv.conf is read again. A DHCP lease may change
// the nameservers; pods see the change within this long.
const resolversInterval = 30 * time.Second

// upstreamSetter is the cluster DNS, as the resolver follower uses it.
type upstreamSetter interface {
	SetUpstreams([]string) error
	Upstreams() []string
}

// resolverFollower keeps the cluster DNS forwarding to the nameservers of the resolv.conf at
// path. A file it cannot read keeps the current list (it says so once per failure streak);
// a missing file means none.
type resolverFollower struct {
	path     string
	dns      upstreamSetter
	interval time.Duration
	// clock paces the reads; nil: the real clock (tests step a fake one).
	clock clock.Clock
}

func (f *resolverFollower) run(ctx context.Context) error {
	logger := supervisor.Logger(ctx)
	if len(f.dns.Upstreams()) == 0 {
		logger.Warningf("no resolvers in %s: pods can resolve cluster names only", f.path)
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	failing := false
	clk := f.clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	for {
		// A timer per round rather than a ticker: a slow read never queues the next.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clk.After(f.interval):
		}
		upstreams, err := upstreamResolvers(f.path)
		if err != nil {
			if !failing {
				logger.Warningf("keeping resolvers %v: %v", f.dns.Upstreams(), err)
			}
			failing = true
			continue
		}
		failing = false
		if slices.Equal(upstreams, f.dns.Upstreams()) {
			continue
		}
		if err := f.dns.SetUpstreams(upstreams); err != nil {
			return err // parseNameservers only makes host:53 addresses: a bug
		}
		logger.Infof("resolvers in %s changed: cluster DNS forwards outside names to %v", f.path, upstreams)
	}
}
