package ipconfig

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Text is a link's static configuration as a person writes it.
type Text struct {
	// HardwareAddress selects the link by its Ethernet address ("52:54:00:12:34:56"); empty:
	// the first Ethernet link with carrier.
	HardwareAddress string
	// Addresses are the link's own addresses with prefix length ("192.0.2.10/24"); at least one.
	Addresses []string
	// Gateways are default gateways, at most one per address family, each reachable on the link.
	Gateways []string
	// Nameservers are the resolvers the node uses.
	Nameservers []string
}

// Static is a checked static configuration.
type Static struct {
	// HardwareAddress selects the link; nil: the first Ethernet link with carrier.
	HardwareAddress net.HardwareAddr
	Addresses       []netip.Prefix
	Gateways        []netip.Addr
	Nameservers     []netip.Addr
}

// ParseStatic checks t and returns an error naming the first wrong field by its name relative
// to t, e.g. "gateways[0]: 198.51.100.1 is in none of the link's subnets (192.0.2.10/24)", for
// the caller to prefix with the path of its own message.
func ParseStatic(t Text) (*Static, error) {
	return parseStatic(t)
}

func parseStatic(s Text) (*Static, error) {
	p := &Static{}
	if hw := s.HardwareAddress; hw != "" {
		if err := checkLength(hw); err != nil {
			return nil, fmt.Errorf("hardware_address: %w", err)
		}
		mac, err := net.ParseMAC(hw)
		if err != nil {
			return nil, fmt.Errorf("hardware_address: %w", err)
		}
		if len(mac) != 6 {
			return nil, fmt.Errorf("hardware_address: %q is not an Ethernet (6-byte) address", hw)
		}
		p.HardwareAddress = mac
	}

	if len(s.Addresses) == 0 {
		return nil, errors.New("addresses: must list at least one address with prefix length, e.g. 192.0.2.10/24")
	}
	for i, a := range s.Addresses {
		prefix, err := parseAddress(a)
		if err != nil {
			return nil, fmt.Errorf("addresses[%d]: %w", i, err)
		}
		for j, other := range p.Addresses {
			if other.Addr() == prefix.Addr() {
				return nil, fmt.Errorf("addresses[%d]: %s is already addresses[%d]", i, prefix.Addr(), j)
			}
		}
		p.Addresses = append(p.Addresses, prefix)
	}

	for i, g := range s.Gateways {
		gw, err := parseHost(g)
		if err != nil {
			return nil, fmt.Errorf("gateways[%d]: %w", i, err)
		}
		for j, other := range p.Gateways {
			if other.Is4() == gw.Is4() {
				return nil, fmt.Errorf("gateways[%d]: %s is a second gateway of its address family (after gateways[%d] %s); give at most one per family", i, gw, j, other)
			}
		}
		if err := checkGateway(gw, p.Addresses); err != nil {
			return nil, fmt.Errorf("gateways[%d]: %w", i, err)
		}
		p.Gateways = append(p.Gateways, gw)
	}

	for i, ns := range s.Nameservers {
		addr, err := parseHost(ns)
		if err != nil {
			return nil, fmt.Errorf("nameservers[%d]: %w", i, err)
		}
		p.Nameservers = append(p.Nameservers, addr)
	}
	return p, nil
}

// parseAddress parses one of the link's own addresses with its prefix length.
func parseAddress(s string) (netip.Prefix, error) {
	if err := checkLength(s); err != nil {
		return netip.Prefix{}, err
	}
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("want an address with prefix length, e.g. 192.0.2.10/24: %w", err)
	}
	addr := prefix.Addr()
	if addr.Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%s is an IPv4-mapped IPv6 address; write the IPv4 address as such", addr)
	}
	if err := CheckUnicast(addr); err != nil {
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
	if err := checkLength(s); err != nil {
		return netip.Addr{}, err
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("want an IP address: %w", err)
	}
	if addr.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q has a zone; give the address without %%zone", s)
	}
	addr = addr.Unmap()
	if err := CheckUnicast(addr); err != nil {
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

// CheckUnicast refuses addresses that cannot be a host's own address, its gateway or its DNS
// server.
func CheckUnicast(addr netip.Addr) error {
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

// maxFieldLength is longer than any address this package takes (an IPv6 address with prefix
// is at most 43 characters). Longer input is refused before parsing, so that no error echoes
// more than this of what it was given (the parsers quote their input whole).
const maxFieldLength = 64

func checkLength(s string) error {
	if len(s) > maxFieldLength {
		return fmt.Errorf("%d bytes, longer than any address (at most %d), starting %q", len(s), maxFieldLength, s[:16])
	}
	// Addresses are printable ASCII. Anything else is refused here, because the parsers'
	// errors quote their input twice and a quoted control byte takes four characters.
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("byte %d is %#02x; an address is printable ASCII, starting %.16q", i, s[i], s)
		}
	}
	return nil
}
