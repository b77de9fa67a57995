package ipconfig

import (
	"errors"
	"fmt"
	"net/netip"
)

// Bounds on the rest of a node's network, so that a configuration stays one a person reads.
const (
	MinMTU    = 576 // the least an IPv4 host must accept (RFC 791)
	MaxMTU    = 9216
	maxVLANs  = 16
	maxRoutes = 64
	// maxLinkAddresses bounds the addresses of one VLAN link.
	maxLinkAddresses = 16
)

// ExtraText is what a node's network has besides its uplink's own configuration, as a person
// writes it: the uplink's MTU, VLAN links on the uplink, and routes; and, if the uplink is a
// bond of several network cards, the bond.
type ExtraText struct {
	MTU    uint32
	VLANs  []VLANText
	Routes []RouteText
	// Bond, if set, makes the uplink a bond of network cards (bond.go).
	Bond *BondText `json:",omitempty"`
}

// VLANText is one VLAN link: its 802.1Q ID, addresses with prefix length, and MTU.
type VLANText struct {
	ID        uint32
	Addresses []string
	MTU       uint32
}

// RouteText is one route: a destination prefix and the next hop.
type RouteText struct {
	Destination string
	Gateway     string
}

// Extra is a checked ExtraText. A zero MTU leaves the link's own.
type Extra struct {
	MTU    int
	VLANs  []VLAN
	Routes []Route
	// Bond, if not nil, makes the uplink a bond.
	Bond *Bond
}

// VLAN is a checked VLAN link.
type VLAN struct {
	ID        int
	Addresses []netip.Prefix
	MTU       int
}

// Name is the link's name on the node: "vlan" and the ID, short of the kernel's 15 bytes.
func (v VLAN) Name() string { return fmt.Sprintf("vlan%d", v.ID) }

// Route is a checked route.
type Route struct {
	Destination netip.Prefix
	Gateway     netip.Addr
}

// ParseExtra checks t against the uplink's static addresses (nil when the uplink is
// configured by DHCP, whose subnets are unknown until a lease comes: a route's gateway is then
// only checked against the VLANs' subnets, and the kernel has the last word). Errors name the
// field as ParseStatic's do, e.g. "vlans[0].id: 4095 is outside 1 to 4094".
func ParseExtra(t ExtraText, uplink []netip.Prefix) (*Extra, error) {
	e := &Extra{}
	mtu, err := checkMTU(t.MTU, MaxMTU)
	if err != nil {
		return nil, fmt.Errorf("mtu: %w", err)
	}
	e.MTU = mtu
	if t.Bond != nil {
		if e.Bond, err = ParseBond(*t.Bond); err != nil {
			return nil, fmt.Errorf("bond.%w", err)
		}
	}
	if len(t.VLANs) > maxVLANs {
		return nil, fmt.Errorf("vlans: %d, at most %d", len(t.VLANs), maxVLANs)
	}
	// Addresses must be distinct across all links, or the kernel would pick one arbitrarily.
	seen := make(map[netip.Addr]string)
	for _, p := range uplink {
		seen[p.Addr()] = "the uplink's"
	}
	for i, vt := range t.VLANs {
		v, err := parseVLAN(vt, mtu, seen)
		if err != nil {
			return nil, fmt.Errorf("vlans[%d].%w", i, err)
		}
		for j, other := range e.VLANs {
			if other.ID == v.ID {
				return nil, fmt.Errorf("vlans[%d].id: %d is already vlans[%d]", i, v.ID, j)
			}
		}
		e.VLANs = append(e.VLANs, v)
	}
	if len(t.Routes) > maxRoutes {
		return nil, fmt.Errorf("routes: %d, at most %d", len(t.Routes), maxRoutes)
	}
	for i, rt := range t.Routes {
		r, err := parseRoute(rt, uplink, e.VLANs)
		if err != nil {
			return nil, fmt.Errorf("routes[%d].%w", i, err)
		}
		for j, other := range e.Routes {
			if other.Destination == r.Destination {
				return nil, fmt.Errorf("routes[%d].destination: %s is already routes[%d]'s", i, r.Destination, j)
			}
		}
		e.Routes = append(e.Routes, r)
	}
	return e, nil
}

// checkMTU checks an MTU of at most max; 0 stands for the link's own.
func checkMTU(mtu uint32, max int) (int, error) {
	if mtu == 0 {
		return 0, nil
	}
	if mtu < MinMTU || int64(mtu) > int64(max) {
		return 0, fmt.Errorf("%d is outside %d to %d", mtu, MinMTU, max)
	}
	return int(mtu), nil
}

func parseVLAN(t VLANText, uplinkMTU int, seen map[netip.Addr]string) (VLAN, error) {
	v := VLAN{ID: int(t.ID)}
	if t.ID < 1 || t.ID > 4094 {
		return v, fmt.Errorf("id: %d is outside 1 to 4094", t.ID)
	}
	max := MaxMTU
	if uplinkMTU != 0 {
		max = uplinkMTU
	}
	mtu, err := checkMTU(t.MTU, max)
	if err != nil {
		return v, fmt.Errorf("mtu: %w (a VLAN's is at most its uplink's)", err)
	}
	v.MTU = mtu
	if len(t.Addresses) == 0 {
		return v, errors.New("addresses: must list at least one address with prefix length, e.g. 10.100.0.5/24")
	}
	if len(t.Addresses) > maxLinkAddresses {
		return v, fmt.Errorf("addresses: %d, at most %d", len(t.Addresses), maxLinkAddresses)
	}
	for i, a := range t.Addresses {
		p, err := parseAddress(a)
		if err != nil {
			return v, fmt.Errorf("addresses[%d]: %w", i, err)
		}
		if owner, ok := seen[p.Addr()]; ok {
			return v, fmt.Errorf("addresses[%d]: %s is already %s address", i, p.Addr(), owner)
		}
		seen[p.Addr()] = v.Name() + "'s"
		v.Addresses = append(v.Addresses, p)
	}
	return v, nil
}

func parseRoute(t RouteText, uplink []netip.Prefix, vlans []VLAN) (Route, error) {
	var r Route
	if err := checkLength(t.Destination); err != nil {
		return r, fmt.Errorf("destination: %w", err)
	}
	dst, err := netip.ParsePrefix(t.Destination)
	if err != nil {
		return r, fmt.Errorf("destination: want a prefix, e.g. 198.51.100.0/24: %w", err)
	}
	if dst != dst.Masked() {
		return r, fmt.Errorf("destination: %s has host bits set; the prefix is %s", dst, dst.Masked())
	}
	if dst.Bits() == 0 {
		return r, fmt.Errorf("destination: %s is a default route; give it as the uplink's gateway", dst)
	}
	r.Destination = dst
	gw, err := parseHost(t.Gateway)
	if err != nil {
		return r, fmt.Errorf("gateway: %w", err)
	}
	if gw.Is4() != dst.Addr().Is4() {
		return r, fmt.Errorf("gateway: %s is not of the destination's address family", gw)
	}
	r.Gateway = gw
	// The next hop must be on one of the node's links. With a DHCP uplink its subnets are
	// not known here: the kernel refuses a gateway it cannot reach, and the node reports it.
	if uplink == nil {
		return r, nil
	}
	links := append([]netip.Prefix(nil), uplink...)
	for _, v := range vlans {
		links = append(links, v.Addresses...)
	}
	if err := checkGateway(gw, links); err != nil {
		return r, fmt.Errorf("gateway: %w", err)
	}
	return r, nil
}
