package netconfig

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/osbase/ipconfig"
)

// settings is what one link should have: from a static configuration or a DHCP lease.
type settings struct {
	addresses   []netip.Prefix
	gateways    []netip.Addr
	nameservers []netip.Addr
	// ntpServers are a DHCP lease's time servers (option 42); a static configuration has none.
	ntpServers []netip.Addr
	// lifetime, if not zero, is how long the kernel keeps the addresses unless they are
	// replaced again: a DHCP lease's duration, so that an address whose lease ran out goes
	// even if this process cannot remove it.
	lifetime time.Duration
	// extra is the uplink's MTU, VLANs and routes (the uplink's; a VLAN's settings have none).
	extra ipconfig.Extra
}

// configured is what this package put on the link, so that a later apply removes what is no
// longer wanted and leaves everything else (link-local addresses, routes others made) alone.
type configured struct {
	addresses map[netip.Prefix]bool
	gateways  map[netip.Addr]bool
}

// apply makes link's addresses and default routes those of want, removing ones this package
// configured earlier (in *owned) that want no longer has.
func apply(link netlink.Link, want settings, owned *configured) error {
	if owned.addresses == nil {
		owned.addresses = make(map[netip.Prefix]bool)
		owned.gateways = make(map[netip.Addr]bool)
	}
	name := link.Attrs().Name

	wanted := make(map[netip.Prefix]bool)
	for _, p := range want.addresses {
		wanted[p] = true
		addr := &netlink.Addr{IPNet: ipNet(p)}
		if want.lifetime > 0 {
			secs := int(want.lifetime / time.Second)
			addr.ValidLft, addr.PreferedLft = secs, secs
		}
		if err := netlink.AddrReplace(link, addr); err != nil {
			return fmt.Errorf("add address %s to %s: %w", p, name, err)
		}
		owned.addresses[p] = true
	}

	// Default routes go before removing old addresses, so that a renumbered node is never
	// without a way out for longer than needed.
	wantedGW := make(map[netip.Addr]bool)
	for _, gw := range want.gateways {
		wantedGW[gw] = true
		route := defaultRoute(link, gw)
		if !onLink(gw, want.addresses) {
			// A gateway outside the link's subnets (DHCP servers of some clouds hand out /32
			// addresses) is reachable on the link all the same.
			route.Flags |= int(netlink.FLAG_ONLINK)
		}
		if err := netlink.RouteReplace(route); err != nil {
			return fmt.Errorf("add default route via %s on %s: %w", gw, name, err)
		}
		owned.gateways[gw] = true
	}
	for gw := range owned.gateways {
		if wantedGW[gw] {
			continue
		}
		if err := netlink.RouteDel(defaultRoute(link, gw)); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("remove default route via %s on %s: %w", gw, name, err)
		}
		delete(owned.gateways, gw)
	}
	for p := range owned.addresses {
		if wanted[p] {
			continue
		}
		if err := promoteSecondaries(name); err != nil {
			return err
		}
		err := netlink.AddrDel(link, &netlink.Addr{IPNet: ipNet(p)})
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("remove address %s from %s: %w", p, name, err)
		}
		delete(owned.addresses, p)
	}
	return nil
}

func defaultRoute(link netlink.Link, gw netip.Addr) *netlink.Route {
	family := netlink.FAMILY_V4
	dst := &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	if gw.Is6() {
		family = netlink.FAMILY_V6
		dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
	}
	return &netlink.Route{
		LinkIndex: link.Attrs().Index,
		Family:    family,
		Dst:       dst,
		Gw:        net.IP(gw.AsSlice()),
		Scope:     netlink.SCOPE_UNIVERSE,
	}
}

// onLink reports whether gw lies in one of addresses' subnets, or is IPv6 link-local.
func onLink(gw netip.Addr, addresses []netip.Prefix) bool {
	if gw.Is6() && gw.IsLinkLocalUnicast() {
		return true
	}
	for _, p := range addresses {
		if p.Contains(gw) {
			return true
		}
	}
	return false
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// promoteSecondaries makes the kernel keep link's other IPv4 addresses of a subnet when the
// first one goes: without it, removing a renumbered node's old address (the subnet's primary)
// takes the new one (a secondary) with it.
func promoteSecondaries(link string) error {
	path := "/proc/sys/net/ipv4/conf/" + link + "/promote_secondaries"
	if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("keep %s's other addresses when one goes: %w", link, err)
	}
	return nil
}
