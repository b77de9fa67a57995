package apb

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// validateNetworkConfig checks n; its errors start with "." or ":" so that the caller's prefix
// "network" reads as a path.
func validateNetworkConfig(n *NetworkConfig) error {
	switch m := n.GetMode().(type) {
	case *NetworkConfig_Dhcp:
		return nil
	case *NetworkConfig_Static:
		if err := validateStaticNetwork(m.Static); err != nil {
			return fmt.Errorf(".static.%w", err)
		}
		return nil
	default:
		return errors.New(": neither dhcp nor static is set; set one, or leave network out for DHCP")
	}
}

func validateStaticNetwork(s *NetworkConfig_StaticMode) error {
	if hw := s.GetHardwareAddress(); hw != "" {
		mac, err := net.ParseMAC(hw)
		if err != nil {
			return fmt.Errorf("hardware_address: %w", err)
		}
		if len(mac) != 6 {
			return fmt.Errorf("hardware_address: %q is not an Ethernet (6-byte) address", hw)
		}
	}
	if len(s.GetAddresses()) == 0 {
		return errors.New("addresses: must list at least one address with prefix length, e.g. 192.0.2.10/24")
	}
	for i, a := range s.GetAddresses() {
		prefix, err := netip.ParsePrefix(a)
		if err != nil {
			return fmt.Errorf("addresses[%d]: want an address with prefix length, e.g. 192.0.2.10/24: %w", i, err)
		}
		if err := checkUnicast(prefix.Addr()); err != nil {
			return fmt.Errorf("addresses[%d]: %w", i, err)
		}
	}
	families := make(map[bool]string) // is IPv4 -> the gateway already given for that family
	for i, g := range s.GetGateways() {
		addr, err := parsePlainAddr(g)
		if err != nil {
			return fmt.Errorf("gateways[%d]: %w", i, err)
		}
		if err := checkUnicast(addr); err != nil {
			return fmt.Errorf("gateways[%d]: %w", i, err)
		}
		if other, dup := families[addr.Is4()]; dup {
			return fmt.Errorf("gateways[%d]: %s is a second gateway of its address family (after %s); give at most one per family", i, g, other)
		}
		families[addr.Is4()] = g
	}
	for i, ns := range s.GetNameservers() {
		addr, err := parsePlainAddr(ns)
		if err != nil {
			return fmt.Errorf("nameservers[%d]: %w", i, err)
		}
		if err := checkUnicast(addr); err != nil {
			return fmt.Errorf("nameservers[%d]: %w", i, err)
		}
	}
	return nil
}

// parsePlainAddr parses an IP address without a zone: the link is already chosen by
// hardware_address, and a zone names a link by its kernel name, which is not stable.
func parsePlainAddr(s string) (netip.Addr, error) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("want an IP address: %w", err)
	}
	if addr.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q has a zone; give the address without %%zone", s)
	}
	return addr.Unmap(), nil
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
	}
	return nil
}
