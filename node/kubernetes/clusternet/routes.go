package clusternet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// route is one route to another node's pods, as this package makes it.
type route struct {
	Dst netip.Prefix
	// Via is the other node's address for a plain route; invalid for a
	// route over the tunnel.
	Via netip.Addr
	// Tunnel routes over InterfaceName.
	Tunnel bool
	// Src is the preferred source address; invalid for none.
	Src netip.Addr
}

func (r route) String() string {
	s := r.Dst.String()
	if r.Tunnel {
		s += " dev " + InterfaceName
	} else {
		s += " via " + r.Via.String()
	}
	if r.Src.IsValid() {
		s += " src " + r.Src.String()
	}
	return s
}

// desiredRoutes returns a route per peer: over the tunnel (from src, this
// node's pod gateway address) or plainly via the peer's address.
func desiredRoutes(peers []Peer, tunnel bool, src netip.Addr) []route {
	var rs []route
	for _, p := range peers {
		r := route{Dst: p.PodCIDR}
		if tunnel {
			r.Tunnel, r.Src = true, src
		} else {
			r.Via = p.NodeIP
		}
		rs = append(rs, r)
	}
	return rs
}

// diffRoutes returns what to replace (new or different) and what to remove
// (present but no longer wanted) to get from current to desired. Routes are
// keyed by destination, as in the kernel's table.
func diffRoutes(current, desired []route) (replace, remove []route) {
	have := map[netip.Prefix]route{}
	for _, r := range current {
		have[r.Dst] = r
	}
	want := map[netip.Prefix]bool{}
	for _, r := range desired {
		want[r.Dst] = true
		if h, ok := have[r.Dst]; !ok || h != r {
			replace = append(replace, r)
		}
	}
	for _, r := range current {
		if !want[r.Dst] {
			remove = append(remove, r)
		}
	}
	sort.Slice(remove, func(i, j int) bool { return remove[i].Dst.String() < remove[j].Dst.String() })
	return replace, remove
}

// currentRoutes lists the IPv4 routes in the main table that carry our
// protocol number. tunnelIndex is the tunnel's link index (0: none).
func currentRoutes(h *netlink.Handle, tunnelIndex int) ([]route, error) {
	list, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: RouteProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return nil, fmt.Errorf("listing routes of protocol %d: %w", RouteProtocol, err)
	}
	var rs []route
	for _, nr := range list {
		if nr.Dst == nil {
			continue
		}
		r := route{Dst: prefixOf(nr.Dst)}
		if gw, ok := netip.AddrFromSlice(nr.Gw); ok {
			r.Via = gw.Unmap()
		}
		if src, ok := netip.AddrFromSlice(nr.Src); ok {
			r.Src = src.Unmap()
		}
		r.Tunnel = tunnelIndex != 0 && nr.LinkIndex == tunnelIndex && !r.Via.IsValid()
		rs = append(rs, r)
	}
	return rs, nil
}

// applyRoutes removes and replaces routes in the main table.
func applyRoutes(h *netlink.Handle, replace, remove []route, tunnelIndex int) error {
	for _, r := range remove {
		nr := &netlink.Route{Dst: ipNet(r.Dst), Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
		if err := h.RouteDel(nr); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("removing route %v: %w", r, err)
		}
	}
	for _, r := range replace {
		nr := &netlink.Route{Dst: ipNet(r.Dst), Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
		if r.Tunnel {
			nr.LinkIndex, nr.Scope = tunnelIndex, netlink.SCOPE_LINK
		} else {
			nr.Gw = net.IP(r.Via.AsSlice())
		}
		if r.Src.IsValid() {
			nr.Src = net.IP(r.Src.AsSlice())
		}
		if err := h.RouteReplace(nr); err != nil {
			return fmt.Errorf("setting route %v: %w", r, err)
		}
	}
	return nil
}

func prefixOf(n *net.IPNet) netip.Prefix {
	a, _ := netip.AddrFromSlice(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
