package netconfig

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/osbase/ipconfig"
)

// ownedExtra is what this package made besides the uplink's addresses, kept across intents so
// that a later one removes what it no longer has: VLAN links (by name, with the addresses put
// on them) and routes.
type ownedExtra struct {
	vlans  map[string]*configured
	routes map[netip.Prefix]netip.Addr
	// mtu is the uplink's MTU before this package first changed it, restored when the intent
	// no longer sets one; 0 while unchanged.
	mtu int
}

// applyMTU sets the uplink's MTU to want, or back to what it was when want is 0.
func applyMTU(link netlink.Link, want int, owned *ownedExtra) error {
	cur := link.Attrs().MTU
	if want == 0 {
		if owned.mtu == 0 || owned.mtu == cur {
			owned.mtu = 0
			return nil
		}
		want = owned.mtu
		owned.mtu = 0
	} else if owned.mtu == 0 {
		owned.mtu = cur
	}
	if cur == want {
		return nil
	}
	if err := netlink.LinkSetMTU(link, want); err != nil {
		return fmt.Errorf("set the MTU of %s to %d: %w", link.Attrs().Name, want, err)
	}
	link.Attrs().MTU = want
	return nil
}

// applyExtra makes the VLAN links and routes those of want, removing the ones this package
// made earlier that want no longer has. It goes on past a failure and returns every one, each
// naming its link or route, for the node to report: the uplink itself is configured already,
// and a VLAN that cannot be made must not cut the node off from its cluster.
func applyExtra(uplink netlink.Link, want ipconfig.Extra, owned *ownedExtra) []error {
	if owned.vlans == nil {
		owned.vlans = make(map[string]*configured)
		owned.routes = make(map[netip.Prefix]netip.Addr)
	}
	var errs []error
	wanted := make(map[string]bool)
	for _, v := range want.VLANs {
		wanted[v.Name()] = true
		if err := applyVLAN(uplink, v, owned); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range sortedKeys(owned.vlans) {
		if wanted[name] {
			continue
		}
		if l, err := netlink.LinkByName(name); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				errs = append(errs, fmt.Errorf("remove VLAN link %s: %w", name, err))
				continue
			}
		}
		delete(owned.vlans, name)
	}

	wantedRoutes := make(map[netip.Prefix]bool)
	for _, r := range want.Routes {
		wantedRoutes[r.Destination] = true
		if err := netlink.RouteReplace(staticRoute(r)); err != nil {
			errs = append(errs, fmt.Errorf("route %s via %s: %w", r.Destination, r.Gateway, err))
			continue
		}
		owned.routes[r.Destination] = r.Gateway
	}
	for dst, gw := range owned.routes {
		if wantedRoutes[dst] {
			continue
		}
		err := netlink.RouteDel(staticRoute(ipconfig.Route{Destination: dst, Gateway: gw}))
		if err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("remove route %s via %s: %w", dst, gw, err))
			continue
		}
		delete(owned.routes, dst)
	}
	return errs
}

// applyVLAN makes VLAN link v on uplink (or takes the one there, if it is that VLAN), sets it
// up with v's MTU, and gives it v's addresses.
func applyVLAN(uplink netlink.Link, v ipconfig.VLAN, owned *ownedExtra) error {
	name := v.Name()
	link, err := netlink.LinkByName(name)
	if err == nil {
		if vl, ok := link.(*netlink.Vlan); !ok || vl.VlanId != v.ID || vl.ParentIndex != uplink.Attrs().Index {
			// Someone else's link of that name (or one on a former uplink): make it anew.
			if err := netlink.LinkDel(link); err != nil {
				return fmt.Errorf("VLAN link %s: remove the %s link of that name: %w", name, link.Type(), err)
			}
			link = nil
		}
	} else {
		link = nil
	}
	if link == nil {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		attrs.ParentIndex = uplink.Attrs().Index
		if err := netlink.LinkAdd(&netlink.Vlan{LinkAttrs: attrs, VlanId: v.ID, VlanProtocol: netlink.VLAN_PROTOCOL_8021Q}); err != nil {
			return fmt.Errorf("VLAN link %s (ID %d on %s): %w", name, v.ID, uplink.Attrs().Name, err)
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("VLAN link %s: made, but not found: %w", name, err)
		}
	}
	if owned.vlans[name] == nil {
		owned.vlans[name] = &configured{}
	}
	mtu := v.MTU
	if mtu == 0 {
		mtu = uplink.Attrs().MTU
	}
	if link.Attrs().MTU != mtu {
		if err := netlink.LinkSetMTU(link, mtu); err != nil {
			return fmt.Errorf("VLAN link %s: set MTU %d: %w", name, mtu, err)
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return fmt.Errorf("VLAN link %s: set up: %w", name, err)
		}
	}
	if err := apply(link, settings{addresses: v.Addresses}, owned.vlans[name]); err != nil {
		return fmt.Errorf("VLAN link %s: %w", name, err)
	}
	return nil
}

// staticRoute is r as the kernel takes it; the kernel finds the link from the gateway.
func staticRoute(r ipconfig.Route) *netlink.Route {
	family := netlink.FAMILY_V4
	if r.Gateway.Is6() {
		family = netlink.FAMILY_V6
	}
	return &netlink.Route{Family: family, Dst: ipNet(r.Destination), Gw: net.IP(r.Gateway.AsSlice()), Scope: netlink.SCOPE_UNIVERSE}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
