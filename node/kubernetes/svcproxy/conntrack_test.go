package svcproxy

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestStaleUDP(t *testing.T) {
	dns := func(eps ...Endpoint) ServicePort {
		return ServicePort{ClusterIP: netip.MustParseAddr("10.96.0.10"), Protocol: ProtocolUDP, Port: 53, Endpoints: eps}
	}
	web := func(eps ...Endpoint) ServicePort {
		return ServicePort{ClusterIP: netip.MustParseAddr("10.96.0.20"), Protocol: ProtocolTCP, Port: 80, Endpoints: eps}
	}
	a, b := ep("10.0.0.1", 5353), ep("10.0.0.2", 5353)
	for _, tc := range []struct {
		name     string
		old, new []ServicePort
		stale    []Endpoint
	}{
		{"first sync", nil, []ServicePort{dns(a)}, nil},
		{"unchanged", []ServicePort{dns(a, b)}, []ServicePort{dns(a, b)}, nil},
		{"endpoint removed", []ServicePort{dns(a, b)}, []ServicePort{dns(b)}, []Endpoint{a}},
		{"endpoint port changed", []ServicePort{dns(a)}, []ServicePort{dns(ep("10.0.0.1", 53))}, []Endpoint{a}},
		{"service removed", []ServicePort{dns(a, b)}, nil, []Endpoint{a, b}},
		{"TCP is left to the endpoints", []ServicePort{web(a)}, []ServicePort{web()}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := staleUDP(tc.old, tc.new)
			if len(got) != len(tc.stale) {
				t.Fatalf("got %d filters, want %d", len(got), len(tc.stale))
			}
			for i, e := range tc.stale {
				// The filter must match a flow from some client to the
				// ClusterIP that the stale endpoint answered, and not
				// the same flow answered by another endpoint.
				flow := &netlink.ConntrackFlow{FamilyType: unix.AF_INET, Forward: netlink.IPTuple{
					SrcIP: net.ParseIP("10.99.3.2"), DstIP: net.ParseIP("10.96.0.10"), Protocol: unix.IPPROTO_UDP, SrcPort: 40000, DstPort: 53,
				}, Reverse: netlink.IPTuple{
					SrcIP: net.IP(e.Addr.AsSlice()), DstIP: net.ParseIP("10.99.3.2"), Protocol: unix.IPPROTO_UDP, SrcPort: e.Port, DstPort: 40000,
				}}
				if !got[i].MatchConntrackFlow(flow) {
					t.Errorf("filter %d does not match a flow answered by %v", i, e)
				}
				flow.Reverse.SrcIP = net.ParseIP("10.0.0.99")
				if got[i].MatchConntrackFlow(flow) {
					t.Errorf("filter %d matches a flow answered by another endpoint", i)
				}
			}
		})
	}
}
