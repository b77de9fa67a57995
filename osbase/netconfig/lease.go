package netconfig

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"metropolis.dev/metropolis/osbase/ipconfig"
)

// infiniteLease is DHCP's lease time 0xffffffff seconds: the address never expires.
const infiniteLease = time.Duration(0xffffffff) * time.Second

// minRenewAfter keeps a server that grants very short leases from making the client spin.
const minRenewAfter = 5 * time.Second

// lease is what the node takes from a DHCP server's ACK.
type lease struct {
	address     netip.Prefix
	router      netip.Addr // invalid if the server gave none
	nameservers []netip.Addr
	// ntpServers are the time servers of option 42, for the node's time keeping when its
	// configuration names none.
	ntpServers []netip.Addr
	// duration is the lease's length; infinite is true for a lease that never ends, and then
	// the times below are meaningless.
	duration   time.Duration
	infinite   bool
	renewAfter time.Duration // T1
	rebindTime time.Duration // T2
}

// parseLease checks ack (untrusted: it came from the network) and returns the lease it grants.
// Routers and nameservers that cannot be one (unspecified, loopback, multicast) are skipped.
func parseLease(ack *dhcpv4.DHCPv4) (*lease, error) {
	if ack.MessageType() != dhcpv4.MessageTypeAck {
		return nil, fmt.Errorf("DHCP message is a %s, not an ACK", ack.MessageType())
	}
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok {
		return nil, fmt.Errorf("DHCP ACK offers no IPv4 address (yiaddr %v)", ack.YourIPAddr)
	}
	if err := ipconfig.CheckUnicast(ip); err != nil {
		return nil, fmt.Errorf("DHCP ACK offers an unusable address: %w", err)
	}
	mask := ack.SubnetMask()
	if mask == nil {
		// RFC 2131 lets a server leave the mask out; the classful mask is what clients
		// have always assumed then.
		mask = net.IP(ip.AsSlice()).DefaultMask()
	}
	ones, bits := mask.Size()
	if bits != 32 {
		return nil, fmt.Errorf("DHCP ACK has a non-contiguous or non-IPv4 subnet mask %v", net.IP(mask))
	}
	l := &lease{address: netip.PrefixFrom(ip, ones)}

	for _, r := range ack.Router() {
		if addr, ok := netip.AddrFromSlice(r.To4()); ok && ipconfig.CheckUnicast(addr) == nil && addr != ip {
			l.router = addr
			break
		}
	}
	for _, ns := range ack.DNS() {
		if addr, ok := netip.AddrFromSlice(ns.To4()); ok && ipconfig.CheckUnicast(addr) == nil {
			l.nameservers = append(l.nameservers, addr)
		}
	}

	const maxNTPServers = 8 // the node's configuration takes as many
	for _, ns := range ack.NTPServers() {
		if addr, ok := netip.AddrFromSlice(ns.To4()); ok && ipconfig.CheckUnicast(addr) == nil && len(l.ntpServers) < maxNTPServers {
			l.ntpServers = append(l.ntpServers, addr)
		}
	}

	l.duration = ack.IPAddressLeaseTime(0)
	if l.duration <= 0 {
		return nil, errors.New("DHCP ACK has no lease time")
	}
	if l.duration >= infiniteLease {
		l.infinite = true
		return l, nil
	}
	// RFC 2131 4.4.5: T1 defaults to half the lease, T2 to seven eighths; a server's values
	// are used when they are in order. Seven eighths as /8*7: a lease of nearly 2^32 seconds
	// times 7 overflows a Duration (found by FuzzParseLease).
	sevenEighths := l.duration / 8 * 7
	l.renewAfter = ack.IPAddressRenewalTime(l.duration / 2)
	l.rebindTime = ack.IPAddressRebindingTime(sevenEighths)
	if l.rebindTime <= 0 || l.rebindTime > l.duration {
		l.rebindTime = sevenEighths
	}
	if l.renewAfter <= 0 || l.renewAfter > l.rebindTime {
		l.renewAfter = l.duration / 2
	}
	l.renewAfter = max(l.renewAfter, min(minRenewAfter, l.duration/2))
	return l, nil
}

// settings is what the lease puts on the link.
func (l *lease) settings() settings {
	s := settings{addresses: []netip.Prefix{l.address}, nameservers: l.nameservers, ntpServers: l.ntpServers}
	if l.router.IsValid() {
		s.gateways = []netip.Addr{l.router}
	}
	if !l.infinite {
		s.lifetime = l.duration
	}
	return s
}
