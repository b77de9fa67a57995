package netns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// nodeInterface is the name of a node's end of its veth pair, inside its namespace.
const nodeInterface = "eth0"

// dumpRetries bounds retries of a link or address dump that the kernel interrupted because the
// list changed meanwhile (as when other tests create links at the same time).
const dumpRetries = 5

// createBridge creates the bridge with the host's address and brings it up.
func createBridge(name string, host netip.Prefix) error {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := netlink.LinkAdd(br); err != nil {
		return fmt.Errorf("create bridge %s: %w", name, err)
	}
	if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: ipNet(host)}); err != nil {
		return fmt.Errorf("bridge %s: add address %s: %w", name, host, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("bridge %s: set up: %w", name, err)
	}
	return nil
}

// createNode creates node's namespace and veth pair and configures both ends.
func createNode(bridge string, node Node, bits int, gateway netip.Addr) error {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", bridge, err)
	}
	ns, err := createNamespace(node.Namespace)
	if err != nil {
		return err
	}
	defer ns.Close()

	// The peer is created inside the namespace straight away: as eth0 it would clash with the
	// host's own eth0 for even a moment in the host's namespace.
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: node.HostLink, MasterIndex: br.Attrs().Index},
		PeerName:      nodeInterface,
		PeerNamespace: netlink.NsFd(int(ns)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth pair %s/%s: %w", node.HostLink, nodeInterface, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		return fmt.Errorf("set %s up: %w", node.HostLink, err)
	}
	if err := configureInside(ns, netip.PrefixFrom(node.Address, bits), gateway); err != nil {
		return fmt.Errorf("namespace %s: %w", node.Namespace, err)
	}
	return nil
}

// configureInside brings up lo and eth0 in namespace ns, gives eth0 addr, and routes everything
// else through gateway.
func configureInside(ns netns.NsHandle, addr netip.Prefix, gateway netip.Addr) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("open netlink: %w", err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	eth, err := h.LinkByName(nodeInterface)
	if err != nil {
		return fmt.Errorf("find %s: %w", nodeInterface, err)
	}
	if err := h.AddrAdd(eth, &netlink.Addr{IPNet: ipNet(addr)}); err != nil {
		return fmt.Errorf("%s: add address %s: %w", nodeInterface, addr, err)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("set %s up: %w", nodeInterface, err)
	}
	def := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: gateway.AsSlice()}
	if err := h.RouteAdd(def); err != nil {
		return fmt.Errorf("add default route via %s: %w", gateway, err)
	}
	return nil
}

// removeNode removes what createNode made of node; whatever is already gone is no error.
func removeNode(node Node) error {
	return errors.Join(deleteLink(node.HostLink), deleteNamespace(node.Namespace))
}

// deleteLink deletes the host's link called name, if it exists. Deleting one end of a veth pair
// deletes the other.
func deleteLink(name string) error {
	l, err := netlink.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find link %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

// listLinks returns the names of the host's links that belong to network name: node links
// first, then the bridge, the order in which to delete them.
func listLinks(name string) ([]string, error) {
	var links []netlink.Link
	err := retryDump(func() (err error) {
		links, err = netlink.LinkList()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []string
	bridge := false
	for _, l := range links {
		switch n := l.Attrs().Name; {
		case n == bridgeName(name):
			bridge = true
		case isNodeName(name, n):
			out = append(out, n)
		}
	}
	if bridge {
		out = append(out, bridgeName(name))
	}
	return out, nil
}

// checkSubnetFree fails if one of the host's addresses lies in p, or p in one of its subnets:
// the host would not know which link to send the nodes' traffic on.
func checkSubnetFree(p netip.Prefix) error {
	var addrs []netlink.Addr
	err := retryDump(func() (err error) {
		addrs, err = netlink.AddrList(nil, netlink.FAMILY_V4)
		return err
	})
	if err != nil {
		return fmt.Errorf("list host addresses: %w", err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		bits, _ := a.Mask.Size()
		if have := netip.PrefixFrom(ip.Unmap(), bits); have.Overlaps(p) {
			return fmt.Errorf("subnet %s: overlaps the host's address %s (link %s)", p, have, linkNameByIndex(a.LinkIndex))
		}
	}
	return nil
}

func linkNameByIndex(i int) string {
	l, err := netlink.LinkByIndex(i)
	if err != nil {
		return fmt.Sprintf("index %d", i)
	}
	return l.Attrs().Name
}

// retryDump runs dump again while the kernel reports that the list changed during it.
func retryDump(dump func() error) error {
	var err error
	for range dumpRetries {
		if err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
