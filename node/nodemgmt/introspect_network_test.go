package nodemgmt

import (
	"context"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/vishvananda/netlink"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestSocketOf(t *testing.T) {
	id := netlink.SocketID{Source: net.ParseIP("10.0.0.1"), SourcePort: 7836, Destination: net.ParseIP("10.0.0.2"), DestinationPort: 40000}
	for _, tc := range []struct {
		protocol string
		state    uint8
		want     string
	}{
		{"tcp", netlink.TCP_LISTEN, "LISTEN"},
		{"tcp", netlink.TCP_ESTABLISHED, "ESTABLISHED"},
		{"tcp", netlink.TCP_TIME_WAIT, "TIME_WAIT"},
		{"tcp", 99, "state 99"},
		{"udp", netlink.TCP_CLOSE, "UNCONN"},
		{"udp", netlink.TCP_ESTABLISHED, "ESTABLISHED"},
	} {
		got := socketOf(tc.protocol, &netlink.Socket{State: tc.state, ID: id})
		if got.State != tc.want || got.Local != "10.0.0.1:7836" || got.Remote != "10.0.0.2:40000" {
			t.Errorf("%s state %d: %v, want %s between 10.0.0.1:7836 and 10.0.0.2:40000", tc.protocol, tc.state, got, tc.want)
		}
	}
	if got := socketOf("tcp", &netlink.Socket{State: netlink.TCP_LISTEN, ID: netlink.SocketID{Source: net.ParseIP("::1"), SourcePort: 53, Destination: net.IPv6zero}}); got.Local != "[::1]:53" {
		t.Errorf("IPv6 local address written %q, want [::1]:53", got.Local)
	}
}

func TestRouteOf(t *testing.T) {
	_, dst, _ := net.ParseCIDR("10.1.0.0/24")
	names := map[int]string{2: "eth0"}
	for _, tc := range []struct {
		route netlink.Route
		want  *apb.Route
	}{
		{netlink.Route{LinkIndex: 2, Gw: net.ParseIP("10.0.0.1"), Table: 254}, &apb.Route{Destination: "default", Gateway: "10.0.0.1", Interface: "eth0", Table: 254}},
		{netlink.Route{LinkIndex: 2, Dst: dst, Src: net.ParseIP("10.1.0.5"), Table: 254, Priority: 100}, &apb.Route{Destination: "10.1.0.0/24", Interface: "eth0", Table: 254, Metric: 100, Source: "10.1.0.5"}},
	} {
		got := routeOf(tc.route, names)
		if got.String() != tc.want.String() {
			t.Errorf("routeOf(%v) = %v, want %v", tc.route, got, tc.want)
		}
	}
}

// TestGetNetwork reads this machine's network through the API (root: nftables needs
// CAP_NET_ADMIN): loopback with its address, local routes, and a socket the test listens on.
func TestGetNetwork(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: reading nftables needs CAP_NET_ADMIN")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tn := startNode(t, testOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	res, err := tn.client.GetNetwork(ctx, &apb.GetNetworkRequest{})
	if err != nil {
		t.Fatal(err)
	}
	lo := slices.IndexFunc(res.Interfaces, func(i *apb.NetworkInterface) bool { return i.Name == "lo" })
	if lo < 0 || !slices.Contains(res.Interfaces[lo].Addresses, "127.0.0.1/8") || !res.Interfaces[lo].Up {
		t.Errorf("loopback missing, down or without 127.0.0.1/8: %v", res.Interfaces)
	}
	if !slices.ContainsFunc(res.Routes, func(r *apb.Route) bool { return r.Interface == "lo" && r.Table == 255 }) {
		t.Errorf("no route of the local table on lo among %d routes", len(res.Routes))
	}
	want := l.Addr().String()
	if !slices.ContainsFunc(res.Sockets, func(s *apb.Socket) bool { return s.Protocol == "tcp" && s.Local == want && s.State == "LISTEN" }) {
		t.Errorf("the test's listening socket %s is not listed among %d sockets", want, len(res.Sockets))
	}
	t.Logf("%d interfaces, %d routes, %d sockets, %d nftables tables; listening on port %s", len(res.Interfaces), len(res.Routes), len(res.Sockets), len(res.Nftables), strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
}

func TestBondState(t *testing.T) {
	for _, tc := range []struct {
		slave netlink.LinkSlave
		want  string
	}{
		{nil, ""},
		{&netlink.VrfSlave{Table: 10}, ""},
		{&netlink.BondSlave{State: netlink.BondStateActive, MiiStatus: netlink.BondLinkUp}, "active"},
		{&netlink.BondSlave{State: netlink.BondStateBackup, MiiStatus: netlink.BondLinkUp}, "backup"},
		{&netlink.BondSlave{State: netlink.BondStateBackup, MiiStatus: netlink.BondLinkDown}, "link down"},
		{&netlink.BondSlave{State: netlink.BondStateActive, MiiStatus: netlink.BondLinkFail}, "link down"},
	} {
		if got := bondState(tc.slave); got != tc.want {
			t.Errorf("bondState(%+v) = %q, want %q", tc.slave, got, tc.want)
		}
	}
}
