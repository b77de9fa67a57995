package apb

import (
	"errors"
	"fmt"

	"metropolis.dev/metropolis/osbase/ipconfig"
)

// StaticNetwork returns the checked static configuration n asks for, or nil for DHCP (also
// when n is nil). The node applies what it returns, and ValidateNodeParameters checks with
// it, so that both sides keep one set of rules (osbase/ipconfig). Errors name the field by
// its path below network, e.g. "network.static.gateways[0]: ...".
func StaticNetwork(n *NetworkConfig) (*ipconfig.Static, error) {
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
			return nil, fmt.Errorf("network.static.%w", err)
		}
		return static, nil
	default:
		return nil, errors.New("network: neither dhcp nor static is set; set one, or leave network out for DHCP")
	}
}
