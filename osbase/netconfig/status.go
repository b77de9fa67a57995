package netconfig

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Status is what the node's link has. Watchers get a new *Status on every change; a Status is
// never modified once published.
type Status struct {
	// Link is the kernel's name of the configured link, e.g. "eth0".
	Link string
	// HardwareAddress is the link's MAC address.
	HardwareAddress net.HardwareAddr
	// DHCP is true when the values below come from a DHCP lease.
	DHCP bool
	// Addresses are the link's addresses (with prefix length) that this package configured;
	// empty while the node has none (e.g. while waiting for a lease).
	Addresses []netip.Prefix
	// Gateways are the default gateways, at most one per address family.
	Gateways []netip.Addr
	// Nameservers are the DNS servers.
	Nameservers []netip.Addr
	// LeaseExpiry is when the DHCP lease ends unless renewed; zero for static configurations.
	LeaseExpiry time.Time
}

// HasAddress reports whether s holds at least one address, for use with event.Filter:
//
//	st, err := event.Get(ctx, svc, event.Filter(netconfig.HasAddress))
func HasAddress(s *Status) bool {
	return s != nil && len(s.Addresses) > 0
}

// String describes st in one line for logs.
func (st *Status) String() string {
	if st == nil {
		return "not configured"
	}
	mode := "static"
	if st.DHCP {
		mode = "DHCP"
	}
	return fmt.Sprintf("%s %s: addresses %v, gateways %v, nameservers %v", st.Link, mode, st.Addresses, st.Gateways, st.Nameservers)
}
