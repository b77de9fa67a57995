package qemu

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
)

// TapName is node i's tap device: the name launch/netns gives node i's host link, so that
// netns.DestroyByName removes it with the bridge.
func (c *Cluster) TapName(i int) string { return fmt.Sprintf("mp-%s-%d", c.Network.Name, i) }

// ensureTap creates node i's tap device on the cluster's bridge if it does not exist yet, and
// brings it up. The tap is persistent: it stays across VM restarts, and QEMU attaches to it by
// name.
func (c *Cluster) ensureTap(i int) error {
	name := c.TapName(i)
	if _, err := netlink.LinkByName(name); err == nil {
		return nil
	} else if !errors.As(err, new(netlink.LinkNotFoundError)) {
		return fmt.Errorf("node %d: find tap %s: %w", i, name, err)
	}
	net, err := c.network()
	if err != nil {
		return err
	}
	br, err := netlink.LinkByName(net.Bridge())
	if err != nil {
		return fmt.Errorf("node %d: find bridge %s: %w", i, net.Bridge(), err)
	}
	tap := &netlink.Tuntap{
		LinkAttrs: netlink.LinkAttrs{Name: name, MasterIndex: br.Attrs().Index},
		Mode:      netlink.TUNTAP_MODE_TAP,
		// What QEMU asks for when it opens the tap.
		Flags: netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR,
	}
	if err := netlink.LinkAdd(tap); err != nil {
		return fmt.Errorf("node %d: create tap %s: %w", i, name, err)
	}
	// The device persists without them; QEMU opens its own.
	for _, f := range tap.Fds {
		f.Close()
	}
	if err := netlink.LinkSetUp(tap); err != nil {
		return fmt.Errorf("node %d: set tap %s up: %w", i, name, err)
	}
	return nil
}
