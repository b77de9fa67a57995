package netconfig

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/ipconfig"
	"metropolis.dev/metropolis/osbase/supervisor"
)

func TestIntentEqual(t *testing.T) {
	static := func(addr string) *ipconfig.Static {
		return &ipconfig.Static{Addresses: []netip.Prefix{netip.MustParsePrefix(addr)}}
	}
	vlan := ipconfig.Extra{VLANs: []ipconfig.VLAN{{ID: 7, Addresses: []netip.Prefix{netip.MustParsePrefix("10.7.0.5/24")}}}}
	for _, tc := range []struct {
		name string
		a, b *Intent
		want bool
	}{
		{"both DHCP", &Intent{}, &Intent{}, true},
		{"DHCP and static", &Intent{}, &Intent{Static: static("192.0.2.10/24")}, false},
		{"same static", &Intent{Static: static("192.0.2.10/24")}, &Intent{Static: static("192.0.2.10/24")}, true},
		{"another address", &Intent{Static: static("192.0.2.10/24")}, &Intent{Static: static("192.0.2.11/24")}, false},
		{"a VLAN more", &Intent{}, &Intent{Extra: vlan}, false},
		{"same VLAN", &Intent{Extra: vlan}, &Intent{Extra: vlan}, true},
		{"an MTU", &Intent{}, &Intent{Extra: ipconfig.Extra{MTU: 1400}}, false},
		{"nameservers", &Intent{}, &Intent{Nameservers: []netip.Addr{netip.MustParseAddr("192.0.2.53")}}, false},
		{"a bond", &Intent{}, &Intent{Extra: ipconfig.Extra{Bond: bond("active-backup", "52:54:00:00:00:01")}}, false},
		{"same bond", &Intent{Extra: ipconfig.Extra{Bond: bond("active-backup", "52:54:00:00:00:01")}},
			&Intent{Extra: ipconfig.Extra{Bond: bond("active-backup", "52:54:00:00:00:01")}}, true},
		{"nil", nil, &Intent{}, false},
	} {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestIntentInNamespace changes a running node's network as the cluster does: the uplink's
// address moves (the old one goes, the new one reaches the peer), the MTU and a route change,
// a VLAN is asked for, and then the boot configuration comes back and everything made for
// the intent is gone.
func bond(mode string, members ...string) *ipconfig.Bond {
	b, err := ipconfig.ParseBond(ipconfig.BondText{Members: members, Mode: mode})
	if err != nil {
		panic(err)
	}
	return b
}

func TestUplinkChange(t *testing.T) {
	card1, _ := net.ParseMAC("52:54:00:00:00:01")
	card2, _ := net.ParseMAC("52:54:00:00:00:02")
	on := func(hw net.HardwareAddr, b *ipconfig.Bond) *Intent {
		i := &Intent{Static: &ipconfig.Static{HardwareAddress: hw, Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}}}
		i.Extra.Bond = b
		return i
	}
	both := bond("active-backup", "52:54:00:00:00:01", "52:54:00:00:00:02")
	for _, tc := range []struct {
		name      string
		cur, next *Intent
		linkHW    net.HardwareAddr
		want      string // a fragment of the reason; empty: the same uplink
	}{
		{"the same card", on(card1, nil), on(card1, nil), card1, ""},
		{"any card, then the one there", &Intent{}, on(card1, nil), card1, ""},
		{"another card", on(card1, nil), on(card2, nil), card1, "moves from the card 52:54:00:00:00:01 to the card 52:54:00:00:00:02"},
		{"DHCP on any card", on(card1, nil), &Intent{}, card1, ""},
		{"a bond made", on(card1, nil), on(card1, both), card1, "becomes bond bond0 of 2 cards"},
		{"the bond kept, addresses aside", on(card1, both), on(nil, both), card1, ""},
		{"the bond's mode changes", on(nil, both), on(nil, bond("802.3ad", "52:54:00:00:00:01", "52:54:00:00:00:02")), card1, "bond bond0 changes"},
		{"a card leaves the bond", on(nil, both), on(nil, bond("active-backup", "52:54:00:00:00:01")), card1, "bond bond0 changes"},
		{"the bond removed", on(nil, both), on(card1, nil), card1, "no longer bond bond0"},
	} {
		got := uplinkChange(tc.cur, tc.next, tc.linkHW)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestIntentInNamespace(t *testing.T) {
	if !isChild() {
		n := newTestNet(t)
		n.runChild(t, envPeer+"="+n.listen(t))
		return
	}
	peer, boot, moved := childAddresses(t)
	static := func(p netip.Prefix) *ipconfig.Static { return childStatic(t, p, peer) }
	svc := New(Config{Static: static(boot)})
	supervisor.TestHarness(t, svc.Run)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	w := svc.Watch()
	defer w.Close()
	st, err := w.Get(ctx, event.Filter(HasAddress))
	if err != nil {
		t.Fatalf("waiting for the boot address: %v", err)
	}
	link, err := netlink.LinkByName(st.Link)
	if err != nil {
		t.Fatal(err)
	}
	bootMTU := link.Attrs().MTU

	extra, err := ipconfig.ParseExtra(ipconfig.ExtraText{
		MTU:    1400,
		VLANs:  []ipconfig.VLANText{{ID: 7, Addresses: []string{"10.7.0.5/24"}}},
		Routes: []ipconfig.RouteText{{Destination: "198.51.100.0/24", Gateway: peer.String()}},
	}, []netip.Prefix{moved})
	if err != nil {
		t.Fatal(err)
	}
	gen := svc.SetIntent(&Intent{Static: static(moved), Extra: *extra})
	st, err = w.Get(ctx, event.Filter(func(s *Status) bool { return s.Generation == gen }))
	if err != nil {
		t.Fatalf("waiting for the moved address: %v", err)
	}
	t.Logf("status: %s; errors %v", st, st.Errors)
	if got := st.PreferredAddress(); !got.Equal(moved.Addr().AsSlice()) {
		t.Errorf("preferred address %v, want %v", got, moved.Addr())
	}
	requireAddress(t, link, moved)
	requireNoAddress(t, link, boot)
	requireDefaultRoute(t, link, netlink.FAMILY_V4, peer)
	requireRoute(t, "198.51.100.0/24", peer)
	if l, _ := netlink.LinkByName(st.Link); l.Attrs().MTU != 1400 {
		t.Errorf("MTU %d, want 1400", l.Attrs().MTU)
	}
	// This machine's kernel may lack 802.1Q (the node's image has it): then the node says so,
	// naming the link, and keeps the rest.
	if vl, err := netlink.LinkByName("vlan7"); err == nil {
		requireAddress(t, vl, netip.MustParsePrefix("10.7.0.5/24"))
	} else if len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "VLAN link vlan7 (ID 7 on ") {
		t.Errorf("no VLAN link, and the errors %q do not say why", st.Errors)
	}
	if err := helloFromPeer(); err != nil {
		t.Errorf("from the moved address: %v", err)
	}

	gen = svc.SetIntent(nil)
	st, err = w.Get(ctx, event.Filter(func(s *Status) bool { return s.Generation == gen }))
	if err != nil {
		t.Fatalf("waiting for the boot address again: %v", err)
	}
	requireAddress(t, link, boot)
	requireNoAddress(t, link, moved)
	// The same intent again changes nothing on the link, and its generation is reached at once.
	gen = svc.SetIntent(nil)
	if _, err := w.Get(ctx, event.Filter(func(s *Status) bool { return s.Generation == gen })); err != nil {
		t.Fatalf("waiting for an unchanged intent's generation: %v", err)
	}
	if _, err := netlink.LinkByName("vlan7"); err == nil {
		t.Error("the VLAN link stayed after the intent dropped it")
	}
	if l, _ := netlink.LinkByName(st.Link); l.Attrs().MTU != bootMTU {
		t.Errorf("MTU %d, want the link's own %d back", l.Attrs().MTU, bootMTU)
	}
	if routes, _ := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: ipNet(netip.MustParsePrefix("198.51.100.0/24"))}, netlink.RT_FILTER_DST); len(routes) != 0 {
		t.Errorf("the route stayed: %v", routes)
	}
	if len(st.Errors) != 0 {
		t.Errorf("errors after going back: %v", st.Errors)
	}
}

func requireNoAddress(t *testing.T, link netlink.Link, p netip.Prefix) {
	t.Helper()
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if a.IPNet.String() == p.String() {
			t.Errorf("link %s still has %s", link.Attrs().Name, p)
		}
	}
}

func requireRoute(t *testing.T, dst string, gw netip.Addr) {
	t.Helper()
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: ipNet(netip.MustParsePrefix(dst))}, netlink.RT_FILTER_DST)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Gw.String() == gw.String() {
			return
		}
	}
	t.Errorf("no route to %s via %s; routes there: %v", dst, gw, routes)
}
