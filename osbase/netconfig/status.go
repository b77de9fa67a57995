package netconfig

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"metropolis.dev/metropolis/osbase/ipconfig"
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
	// NTPServers are the time servers of the DHCP lease (option 42); empty for static
	// configurations and leases without them.
	NTPServers []netip.Addr
	// LeaseExpiry is when the DHCP lease ends unless renewed; zero for static configurations.
	LeaseExpiry time.Time
	// Extra is the MTU, VLAN links and routes asked for (Intent.Extra); Errors what of them,
	// or of the intent, could not be applied, each naming its link or route.
	Extra  ipconfig.Extra
	Errors []string
	// Generation is that of the intent the link has (SetIntent).
	Generation uint64
}

// PreferredAddress is the address other machines reach the node at: its first IPv4 address,
// else its first; nil while it has none.
func (st *Status) PreferredAddress() net.IP {
	if !HasAddress(st) {
		return nil
	}
	best := st.Addresses[0].Addr()
	for _, a := range st.Addresses {
		if a.Addr().Is4() {
			best = a.Addr()
			break
		}
	}
	return net.IP(best.AsSlice())
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
	line := fmt.Sprintf("%s %s: addresses %v, gateways %v, nameservers %v", st.Link, mode, st.Addresses, st.Gateways, st.Nameservers)
	if len(st.NTPServers) > 0 {
		line += fmt.Sprintf(", NTP servers %v", st.NTPServers)
	}
	if e := st.Extra; e.MTU != 0 || len(e.VLANs) > 0 || len(e.Routes) > 0 {
		line += fmt.Sprintf(", MTU %d, %d VLANs, %d routes", e.MTU, len(e.VLANs), len(e.Routes))
	}
	if len(st.Errors) > 0 {
		line += fmt.Sprintf(", %d errors", len(st.Errors))
	}
	return line
}
