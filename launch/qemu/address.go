package qemu

import (
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/netns"
)

// maxNodes bounds a cluster's size: tap names hold at most three digits of a node's number
// (and its MAC address 12 bits).
const maxNodes = netns.MaxNodes

// nodeMAC is node i's MAC address: QEMU's locally administered prefix 52:54:00, then 12 bits
// from the cluster's name and 12 bits of the node's number. Within a cluster the addresses
// are distinct by construction; clusters of different names differ with high probability,
// which matters only if someone bridges two of them.
func nodeMAC(cluster string, i int) net.HardwareAddr {
	h := fnv.New32a()
	h.Write([]byte(cluster))
	c := h.Sum32() & 0xfff
	n := uint32(i) & 0xfff
	return net.HardwareAddr{0x52, 0x54, 0x00, byte(c >> 4), byte(c<<4) | byte(n>>8), byte(n)}
}

// maxCards bounds a VM's network cards: card k's MAC address holds k-1 in the two bits above
// the node's number (at most 999, 10 bits), and its tap's name one letter.
const maxCards = 4

// cardMAC is the MAC address of node i's network card k (counting from 1): card 1's is
// nodeMAC's, the others differ in the bits above the node's number.
func cardMAC(cluster string, i, k int) net.HardwareAddr {
	return nodeMAC(cluster, i|(k-1)<<10)
}

// staticNetwork is the network configuration of a node at address in subnet, behind gateway
// (the host's address on the bridge), on the card with address mac.
func staticNetwork(mac net.HardwareAddr, address netip.Addr, subnet netip.Prefix, gateway netip.Addr) (*apb.NetworkConfig, error) {
	if !subnet.Contains(address) || !subnet.Contains(gateway) {
		return nil, fmt.Errorf("static network: address %s and gateway %s must lie in subnet %s", address, gateway, subnet)
	}
	return &apb.NetworkConfig{Mode: &apb.NetworkConfig_Static{Static: &apb.NetworkConfig_StaticMode{
		HardwareAddress: mac.String(),
		Addresses:       []string{netip.PrefixFrom(address, subnet.Bits()).String()},
		Gateways:        []string{gateway.String()},
	}}}, nil
}
