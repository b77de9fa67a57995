package netns

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// SetLinkUp connects node i to the network (up) or cuts it off (down), like plugging its cable
// in or pulling it. It switches the host end of the node's veth pair: the node keeps its address
// and sees its eth0 lose carrier, and neither the host nor any other node can reach it, nor it
// them, until it is connected again.
func (n *Network) SetLinkUp(i int, up bool) error {
	node, err := n.Node(i)
	if err != nil {
		return err
	}
	l, err := netlink.LinkByName(node.HostLink)
	if err != nil {
		return fmt.Errorf("network %s: find link %s of node %d: %w", n.name, node.HostLink, i, err)
	}
	if up {
		err = netlink.LinkSetUp(l)
	} else {
		err = netlink.LinkSetDown(l)
	}
	if err != nil {
		return fmt.Errorf("network %s: set link %s of node %d up=%v: %w", n.name, node.HostLink, i, up, err)
	}
	return nil
}
