package netconfig

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	apb "metropolis.dev/metropolis/api/v1"
)

// Config is what Service needs.
type Config struct {
	// Network is the node's network configuration; nil means DHCP on the first Ethernet link
	// with carrier, as for a NetworkConfig without a mode.
	Network *apb.NetworkConfig
	// ResolvConfPath, if set, is the file the nameservers are written to in resolv.conf(5)
	// format, replaced atomically whenever they change. Empty: no file is written.
	ResolvConfPath string
}

// plan is a parsed, checked NetworkConfig.
type plan struct {
	dhcp bool
	// hardwareAddress selects the link; nil: the first Ethernet link with carrier.
	hardwareAddress net.HardwareAddr
	// Static mode only.
	addresses   []netip.Prefix
	gateways    []netip.Addr
	nameservers []netip.Addr
}

// ParseConfig checks n and returns an error naming the first wrong field by its path, e.g.
// "network.static.gateways[0]: 198.51.100.1 is in none of the link's subnets (192.0.2.10/24)".
// A nil n is DHCP.
func ParseConfig(n *apb.NetworkConfig) error {
	_, err := parse(n)
	return err
}

func parse(n *apb.NetworkConfig) (*plan, error) {
	if n == nil {
		return &plan{dhcp: true}, nil
	}
	switch m := n.GetMode().(type) {
	case *apb.NetworkConfig_Dhcp:
		return &plan{dhcp: true}, nil
	case *apb.NetworkConfig_Static:
		p, err := parseStatic(m.Static)
		if err != nil {
			return nil, fmt.Errorf("network.static.%w", err)
		}
		return p, nil
	default:
		return nil, errors.New("network: neither dhcp nor static is set; set one, or leave network out for DHCP")
	}
}

// parseStatic returns errors that start with the field name, for parse to prefix.
func parseStatic(s *apb.NetworkConfig_StaticMode) (*plan, error) {
	p := &plan{}
	if hw := s.GetHardwareAddress(); hw != "" {
		mac, err := net.ParseMAC(hw)
		if err != nil {
			return nil, fmt.Errorf("hardware_address: %w", err)
		}
		if len(mac) != 6 {
			return nil, fmt.Errorf("hardware_address: %q is not an Ethernet (6-byte) address", hw)
		}
		p.hardwareAddress = mac
	}

	if len(s.GetAddresses()) == 0 {
		return nil, errors.New("addresses: must list at least one address with prefix length, e.g. 192.0.2.10/24")
	}
	for i, a := range s.GetAddresses() {
		prefix, err := parseAddress(a)
		if err != nil {
			return nil, fmt.Errorf("addresses[%d]: %w", i, err)
		}
		for j, other := range p.addresses {
			if other.Addr() == prefix.Addr() {
				return nil, fmt.Errorf("addresses[%d]: %s is already addresses[%d]", i, prefix.Addr(), j)
			}
		}
		p.addresses = append(p.addresses, prefix)
	}

	for i, g := range s.GetGateways() {
		gw, err := parseHost(g)
		if err != nil {
			return nil, fmt.Errorf("gateways[%d]: %w", i, err)
		}
		for j, other := range p.gateways {
			if other.Is4() == gw.Is4() {
				return nil, fmt.Errorf("gateways[%d]: %s is a second gateway of its address family (after gateways[%d] %s); give at most one per family", i, gw, j, other)
			}
		}
		if err := checkGateway(gw, p.addresses); err != nil {
			return nil, fmt.Errorf("gateways[%d]: %w", i, err)
		}
		p.gateways = append(p.gateways, gw)
	}

	for i, ns := range s.GetNameservers() {
		addr, err := parseHost(ns)
		if err != nil {
			return nil, fmt.Errorf("nameservers[%d]: %w", i, err)
		}
		p.nameservers = append(p.nameservers, addr)
	}
	return p, nil
}

// parseAddress parses one of the link's own addresses with its prefix length.
func parseAddress(s string) (netip.Prefix, error) {
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("want an address with prefix length, e.g. 192.0.2.10/24: %w", err)
	}
	addr := prefix.Addr()
	if addr.Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%s is an IPv4-mapped IPv6 address; write the IPv4 address as such", addr)
	}
	if err := checkUnicast(addr); err != nil {
		return netip.Prefix{}, err
	}
	if addr.Is6() && addr.IsLinkLocalUnicast() {
		return netip.Prefix{}, fmt.Errorf("%s is link-local; the kernel gives the link its own, give a global address", addr)
	}
	// In IPv4 subnets of more than two addresses, the first is the network's and the last
	// the broadcast address (point-to-point /31 and host /32 subnets have neither).
	if addr.Is4() && prefix.Bits() < 31 {
		network := prefix.Masked().Addr()
		if addr == network {
			return netip.Prefix{}, fmt.Errorf("%s is the network address of %s; give a host address in it", addr, prefix.Masked())
		}
		if addr == lastAddress(prefix) {
			return netip.Prefix{}, fmt.Errorf("%s is the broadcast address of %s; give a host address in it", addr, prefix.Masked())
		}
	}
	return prefix, nil
}

// lastAddress returns the highest address of IPv4 prefix p.
func lastAddress(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	hostBits := 32 - p.Bits()
	for i := 3; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		a[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	return netip.AddrFrom4(a)
}

// parseHost parses a gateway's or nameserver's address: plain, without prefix or zone (the
// link is chosen by hardware_address; a zone would name it by its unstable kernel name).
func parseHost(s string) (netip.Addr, error) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("want an IP address: %w", err)
	}
	if addr.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q has a zone; give the address without %%zone", s)
	}
	addr = addr.Unmap()
	if err := checkUnicast(addr); err != nil {
		return netip.Addr{}, err
	}
	return addr, nil
}

// checkGateway checks that the node can reach gw directly: it lies in one of the link's
// subnets (an IPv6 gateway may also be link-local, as routers advertise themselves), and is
// not one of the node's own addresses.
func checkGateway(gw netip.Addr, addresses []netip.Prefix) error {
	var sameFamily []netip.Prefix
	for _, a := range addresses {
		if a.Addr() == gw {
			return fmt.Errorf("%s is one of the node's own addresses", gw)
		}
		if a.Addr().Is4() == gw.Is4() {
			sameFamily = append(sameFamily, a)
		}
	}
	if gw.Is6() && gw.IsLinkLocalUnicast() {
		return nil
	}
	for _, a := range sameFamily {
		if a.Contains(gw) {
			return nil
		}
	}
	if len(sameFamily) == 0 {
		return fmt.Errorf("%s: the node has no address of its family to reach it from", gw)
	}
	return fmt.Errorf("%s is in none of the link's subnets (%s)", gw, prefixList(sameFamily))
}

func prefixList(ps []netip.Prefix) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}

// checkUnicast refuses addresses that cannot be a host's own address, its gateway or its DNS
// server.
func checkUnicast(addr netip.Addr) error {
	switch {
	case addr.IsUnspecified():
		return fmt.Errorf("%s is the unspecified address", addr)
	case addr.IsLoopback():
		return fmt.Errorf("%s is a loopback address", addr)
	case addr.IsMulticast():
		return fmt.Errorf("%s is a multicast address", addr)
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s is the broadcast address", addr)
	}
	return nil
}
