package qemu

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// TapName is node i's tap device: the name launch/netns gives node i's host link, so that
// netns.DestroyByName removes it with the bridge.
func (c *Cluster) TapName(i int) string { return fmt.Sprintf("mp-%s-%d", c.Network.Name, i) }

// CardTapName is the tap of node i's network card k (counting from 1): card 1's is TapName, card
// k's that and the k-th letter ("mp-NAME-2b" for node 2's second card), which launch/netns
// also counts as node i's.
func (c *Cluster) CardTapName(i, k int) string {
	if k <= 1 {
		return c.TapName(i)
	}
	return c.TapName(i) + string(rune('a'+k-1))
}

// CardMAC is the MAC address of node i's network card k (counting from 1); card 1's is the
// node's MAC.
func (c *Cluster) CardMAC(i, k int) net.HardwareAddr { return cardMAC(c.Name, i, k) }

// cards is how many network cards each VM has.
func (c *Cluster) cards() int { return max(c.Machine.Cards, 1) }

// ensureTap creates node i's tap device on the cluster's bridge if it does not exist yet, and
// brings it up. The tap is persistent: it stays across VM restarts, and QEMU attaches to it by
// name.
func (c *Cluster) ensureTap(i int) error {
	for k := 1; k <= c.cards(); k++ {
		if err := c.ensureCardTap(i, c.CardTapName(i, k)); err != nil {
			return err
		}
	}
	return nil
}

// ensureCardTap creates tap name of node i, as ensureTap says.
func (c *Cluster) ensureCardTap(i int, name string) error {
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

// linkNameMax is the longest interface name Linux takes.
const linkNameMax = 15

// checkCards checks a cluster's number of network cards per VM: 0 or 1 to maxCards, and, with
// more than one, tap names that fit Linux's interface names for every node (a short cluster
// name, or fewer nodes).
func checkCards(cards int, name string, nodes int) error {
	if cards < 0 || cards > maxCards {
		return fmt.Errorf("cards: want 1 to %d network cards per VM, got %d", maxCards, cards)
	}
	if cards <= 1 {
		return nil
	}
	longest := fmt.Sprintf("mp-%s-%d", name, nodes) + "b"
	if len(longest) > linkNameMax {
		return fmt.Errorf("cards: %d cards per VM need tap names like %s, longer than Linux's %d bytes; use a shorter cluster name or fewer nodes", cards, longest, linkNameMax)
	}
	return nil
}
