package netconfig

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"metropolis.dev/metropolis/osbase/ipconfig"
)

// Intent is what the node's network should be. The service starts with the one its Config
// gives (the boot parameters'), and follows SetIntent afterwards: the node's configuration as
// the cluster keeps it, applied while the node runs.
type Intent struct {
	// BootUplink keeps the uplink as Config says (Static is then ignored): the node's
	// configuration sets only the rest of the network.
	BootUplink bool
	// Static is the uplink's static configuration; nil: DHCP.
	Static *ipconfig.Static
	// Extra is the uplink's MTU, the VLAN links on it and the routes besides the default ones.
	Extra ipconfig.Extra
	// Nameservers, when set, replace those of Static or of the DHCP lease.
	Nameservers []netip.Addr
	// Keep marks the intent as the node's lasting configuration, not a trial: it is kept in
	// Config.MemoryPath, and the next boot starts with it (memory.go). It does not change
	// the network, so Equal ignores it.
	Keep bool
}

// Equal reports whether i and o ask for the same network.
func (i *Intent) Equal(o *Intent) bool {
	if i == nil || o == nil {
		return i == o
	}
	return i.BootUplink == o.BootUplink && staticEqual(i.Static, o.Static) && extraEqual(i.Extra, o.Extra) && slices.Equal(i.Nameservers, o.Nameservers)
}

func staticEqual(a, b *ipconfig.Static) bool {
	if a == nil || b == nil {
		return a == b
	}
	return bytes.Equal(a.HardwareAddress, b.HardwareAddress) && slices.Equal(a.Addresses, b.Addresses) &&
		slices.Equal(a.Gateways, b.Gateways) && slices.Equal(a.Nameservers, b.Nameservers)
}

func extraEqual(a, b ipconfig.Extra) bool {
	return a.MTU == b.MTU && slices.Equal(a.Routes, b.Routes) && a.Bond.Equal(b.Bond) &&
		slices.EqualFunc(a.VLANs, b.VLANs, func(x, y ipconfig.VLAN) bool {
			return x.ID == y.ID && x.MTU == y.MTU && slices.Equal(x.Addresses, y.Addresses)
		})
}

// hardwareAddress is the uplink's hardware address the intent names; nil: any Ethernet link
// with carrier. With a bond, the bond's members name the cards instead.
func (i *Intent) hardwareAddress() []byte {
	if i == nil || i.Static == nil || i.Extra.Bond != nil {
		return nil
	}
	return i.Static.HardwareAddress
}

// uplinkChange says why next's uplink is another link than cur's, which has hardware address
// linkHW; "" if it is the same. A bond made, changed or removed, or another card named, is a
// new uplink, which Run starts over on.
func uplinkChange(cur, next *Intent, linkHW net.HardwareAddr) string {
	cb, nb := cur.Extra.Bond, next.Extra.Bond
	switch {
	case cb == nil && nb != nil:
		return fmt.Sprintf("the uplink becomes bond %s of %d cards", ipconfig.BondName, len(nb.Members))
	case cb != nil && nb == nil:
		return fmt.Sprintf("the uplink is no longer bond %s", ipconfig.BondName)
	case cb != nil && !cb.Equal(nb):
		return fmt.Sprintf("bond %s changes", ipconfig.BondName)
	case cb != nil:
		return ""
	}
	if hw := next.hardwareAddress(); hw != nil && !bytes.Equal(hw, linkHW) {
		return fmt.Sprintf("the uplink moves from the card %s to the card %s", linkHW, net.HardwareAddr(hw))
	}
	return ""
}

// uplinkSettings completes what the uplink gets from its static configuration or lease with
// the intent's nameservers and extras.
func (i *Intent) uplinkSettings(s settings) settings {
	if len(i.Nameservers) > 0 {
		s.nameservers = i.Nameservers
	}
	s.extra = i.Extra
	return s
}

// generation is an intent as SetIntent numbered it, so that Status says which one the link
// has.
type generation struct {
	*Intent
	n uint64
}
