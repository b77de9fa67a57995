package netconfig

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
)

func mac(s string) net.HardwareAddr {
	hw, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return hw
}

// A bond's cards are found by their own (permanent) hardware address, which a member keeps
// while it carries the bond's; links that are not cards never count.
func TestMatchMembers(t *testing.T) {
	bondHW := mac("52:54:00:00:00:01")
	eth0 := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: "eth0", EncapType: "ether", HardwareAddr: bondHW, PermHWAddr: mac("52:54:00:00:00:01")}}
	// A member that took the bond's address.
	eth1 := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: "eth1", EncapType: "ether", HardwareAddr: bondHW, PermHWAddr: mac("52:54:00:00:00:02")}}
	// A veth has no permanent address.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "veth0", EncapType: "ether", HardwareAddr: mac("52:54:00:00:00:03")}}
	bridge := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0", EncapType: "ether", HardwareAddr: mac("52:54:00:00:00:04")}}
	links := []netlink.Link{bridge, veth, eth1, eth0}

	b := bond("active-backup", "52:54:00:00:00:02", "52:54:00:00:00:01", "52:54:00:00:00:03", "52:54:00:00:00:04")
	found, missing := matchMembers(*b, links)
	var names []string
	for _, l := range found {
		names = append(names, l.Attrs().Name)
	}
	if got := len(names); got != 3 || names[0] != "eth1" || names[1] != "eth0" || names[2] != "veth0" {
		t.Errorf("found %v, want eth1, eth0, veth0 in the bond's order", names)
	}
	if len(missing) != 1 || missing[0].String() != "52:54:00:00:00:04" {
		t.Errorf("missing %v, want the bridge's address (a bridge is no card)", missing)
	}
}

func TestBondMatches(t *testing.T) {
	hw := mac("52:54:00:00:00:01")
	b := *bond("active-backup", "52:54:00:00:00:01", "52:54:00:00:00:02")
	ours := func(mode netlink.BondMode, miimon int, hw net.HardwareAddr) netlink.Link {
		l := netlink.NewLinkBond(netlink.LinkAttrs{Name: "bond0", HardwareAddr: hw})
		l.Mode, l.Miimon = mode, miimon
		return l
	}
	for _, tc := range []struct {
		name string
		link netlink.Link
		want bool
	}{
		{"the bond asked for", ours(netlink.BOND_MODE_ACTIVE_BACKUP, 100, hw), true},
		// What the kernel makes when its bonding module loads.
		{"the kernel's own bond0", ours(netlink.BOND_MODE_BALANCE_RR, 0, mac("aa:bb:cc:dd:ee:ff")), false},
		{"another interval", ours(netlink.BOND_MODE_ACTIVE_BACKUP, 200, hw), false},
		{"another hardware address", ours(netlink.BOND_MODE_ACTIVE_BACKUP, 100, mac("52:54:00:00:00:02")), false},
		{"not a bond", &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "bond0", HardwareAddr: hw}}, false},
	} {
		if got := bondMatches(tc.link, b, hw); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
