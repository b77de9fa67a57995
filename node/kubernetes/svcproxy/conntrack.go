package svcproxy

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// UDP has no connection for the endpoint's end to close: a client that
// keeps its source port (a DNS resolver does) keeps matching the conntrack
// entry of an endpoint that is gone, and its packets go nowhere until the
// entry times out. Like kube-proxy, we delete the entries of UDP endpoints
// that a sync removed.

// staleUDP lists the conntrack entries to delete after going from old to
// new: for each UDP service port, replies from an endpoint that is no
// longer in it.
func staleUDP(old, new []ServicePort) []*netlink.ConntrackFilter {
	type key struct {
		addr netip.Addr
		port uint16
	}
	kept := make(map[key][]Endpoint)
	for _, p := range new {
		if p.Protocol == ProtocolUDP {
			kept[key{p.ClusterIP, p.Port}] = p.Endpoints
		}
	}
	var filters []*netlink.ConntrackFilter
	for _, p := range old {
		if p.Protocol != ProtocolUDP {
			continue
		}
		still := kept[key{p.ClusterIP, p.Port}]
		for _, ep := range p.Endpoints {
			if slices.Contains(still, ep) {
				continue
			}
			f := &netlink.ConntrackFilter{}
			// Errors here are only for repeated fields, which we never add.
			_ = f.AddProtocol(unix.IPPROTO_UDP)
			_ = f.AddIP(netlink.ConntrackOrigDstIP, net.IP(p.ClusterIP.AsSlice()))
			_ = f.AddPort(netlink.ConntrackOrigDstPort, p.Port)
			_ = f.AddIP(netlink.ConntrackReplySrcIP, net.IP(ep.Addr.AsSlice()))
			filters = append(filters, f)
		}
	}
	return filters
}

// deleteConntrack deletes the entries matching filters in the network
// namespace netNS (0: our own) and says how many went.
func deleteConntrack(netNS int, filters []*netlink.ConntrackFilter) (uint, error) {
	if len(filters) == 0 {
		return 0, nil
	}
	var h *netlink.Handle
	var err error
	if netNS != 0 {
		h, err = netlink.NewHandleAt(netns.NsHandle(netNS), unix.NETLINK_NETFILTER)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_NETFILTER)
	}
	if err != nil {
		return 0, fmt.Errorf("opening conntrack netlink handle: %w", err)
	}
	defer h.Close()
	custom := make([]netlink.CustomConntrackFilter, len(filters))
	for i, f := range filters {
		custom[i] = f
	}
	var total uint
	for _, family := range []netlink.InetFamily{unix.AF_INET, unix.AF_INET6} {
		n, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, family, custom...)
		total += n
		if err != nil {
			return total, fmt.Errorf("deleting stale UDP conntrack entries: %w", err)
		}
	}
	return total, nil
}
