package apb

import (
	"errors"
	"fmt"
	"net/netip"

	"metropolis.dev/metropolis/osbase/ipconfig"
)

// StaticNetwork returns the checked static configuration n asks for, or nil for DHCP (also
// when n is nil). The node applies what it returns, and ValidateNodeParameters checks with
// it, so that both sides keep one set of rules (osbase/ipconfig). Errors name the field by
// its path below network, e.g. "network.static.gateways[0]: ...".
func StaticNetwork(n *NetworkConfig) (*ipconfig.Static, error) {
	static, err := staticNetwork(n)
	if err != nil {
		return nil, fmt.Errorf("network%w", err)
	}
	return static, nil
}

// staticNetwork is StaticNetwork with errors continuing the field's path (".static.x: ..."
// or ": ...").
func staticNetwork(n *NetworkConfig) (*ipconfig.Static, error) {
	if n == nil {
		return nil, nil
	}
	switch m := n.GetMode().(type) {
	case *NetworkConfig_Dhcp:
		return nil, nil
	case *NetworkConfig_Static:
		s := m.Static
		static, err := ipconfig.ParseStatic(ipconfig.Text{
			HardwareAddress: s.GetHardwareAddress(),
			Addresses:       s.GetAddresses(),
			Gateways:        s.GetGateways(),
			Nameservers:     s.GetNameservers(),
		})
		if err != nil {
			return nil, fmt.Errorf(".static.%w", err)
		}
		return static, nil
	default:
		return nil, errors.New(": neither dhcp nor static is set; set one, or leave it out for DHCP")
	}
}

// NodeNetworkOf checks a node's configured network and returns what the node applies: the
// uplink's static configuration (nil: DHCP, or the boot parameters' when uplink is not set)
// and the rest. Errors name the field below network, e.g. "network.vlans[0].id: ...".
func NodeNetworkOf(n *NodeNetwork) (uplink *ipconfig.Static, extra *ipconfig.Extra, err error) {
	if u := n.GetUplink(); u != nil {
		if uplink, err = staticNetwork(u); err != nil {
			return nil, nil, fmt.Errorf("network.uplink%w", err)
		}
	}
	t := ipconfig.ExtraText{MTU: n.GetMtu()}
	if b := n.GetBond(); b != nil {
		t.Bond = &ipconfig.BondText{Members: b.GetMembers(), Mode: b.GetMode(), MIIIntervalMS: b.GetMiiIntervalMs()}
	}
	for _, v := range n.GetVlans() {
		t.VLANs = append(t.VLANs, ipconfig.VLANText{ID: v.GetId(), Addresses: v.GetAddresses(), MTU: v.GetMtu()})
	}
	for _, r := range n.GetRoutes() {
		t.Routes = append(t.Routes, ipconfig.RouteText{Destination: r.GetDestination(), Gateway: r.GetGateway()})
	}
	var addresses []netip.Prefix
	if uplink != nil {
		addresses = uplink.Addresses
	}
	if extra, err = ipconfig.ParseExtra(t, addresses); err != nil {
		return nil, nil, fmt.Errorf("network.%w", err)
	}
	if uplink != nil {
		if err := ipconfig.CheckBondUplink(extra.Bond, uplink.HardwareAddress); err != nil {
			return nil, nil, fmt.Errorf("network.uplink.static.hardware_address: %w", err)
		}
	}
	return uplink, extra, nil
}
