package ipconfig

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseExtra(t *testing.T) {
	uplink := []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}
	vlan := func(id uint32, mtu uint32, addrs ...string) VLANText {
		return VLANText{ID: id, MTU: mtu, Addresses: addrs}
	}
	for _, tc := range []struct {
		name   string
		text   ExtraText
		uplink []netip.Prefix
		want   string // fragment of the error; empty: accepted
	}{
		{"nothing", ExtraText{}, uplink, ""},
		{"everything", ExtraText{MTU: 9000, VLANs: []VLANText{vlan(100, 1500, "10.100.0.5/24")},
			Routes: []RouteText{{"198.51.100.0/24", "192.0.2.1"}, {"203.0.113.0/24", "10.100.0.1"}}}, uplink, ""},
		{"a DHCP uplink takes any gateway of the family", ExtraText{Routes: []RouteText{{"198.51.100.0/24", "172.16.0.1"}}}, nil, ""},
		{"MTU too small", ExtraText{MTU: 100}, uplink, "mtu: 100 is outside 576 to 9216"},
		{"MTU too large", ExtraText{MTU: 65000}, uplink, "mtu: 65000 is outside"},
		{"VLAN ID 0", ExtraText{VLANs: []VLANText{vlan(0, 0, "10.100.0.5/24")}}, uplink, "vlans[0].id: 0 is outside 1 to 4094"},
		{"VLAN ID 4095", ExtraText{VLANs: []VLANText{vlan(4095, 0, "10.100.0.5/24")}}, uplink, "vlans[0].id: 4095"},
		{"a VLAN twice", ExtraText{VLANs: []VLANText{vlan(7, 0, "10.7.0.5/24"), vlan(7, 0, "10.8.0.5/24")}}, uplink, "vlans[1].id: 7 is already vlans[0]"},
		{"a VLAN's MTU over the uplink's", ExtraText{MTU: 1500, VLANs: []VLANText{vlan(7, 9000, "10.7.0.5/24")}}, uplink, "vlans[0].mtu: 9000 is outside 576 to 1500"},
		{"a VLAN without addresses", ExtraText{VLANs: []VLANText{vlan(7, 0)}}, uplink, "vlans[0].addresses: must list at least one"},
		{"a VLAN reusing the uplink's address", ExtraText{VLANs: []VLANText{vlan(7, 0, "192.0.2.10/16")}}, uplink, "vlans[0].addresses[0]: 192.0.2.10 is already the uplink's address"},
		{"two VLANs with one address", ExtraText{VLANs: []VLANText{vlan(7, 0, "10.7.0.5/24"), vlan(8, 0, "10.7.0.5/16")}}, uplink, "vlans[1].addresses[0]: 10.7.0.5 is already vlan7's address"},
		{"a VLAN's broadcast address", ExtraText{VLANs: []VLANText{vlan(7, 0, "10.7.0.255/24")}}, uplink, "vlans[0].addresses[0]: 10.7.0.255 is the broadcast address"},
		{"a route without prefix", ExtraText{Routes: []RouteText{{"198.51.100.0", "192.0.2.1"}}}, uplink, "routes[0].destination: want a prefix"},
		{"a route with host bits", ExtraText{Routes: []RouteText{{"198.51.100.7/24", "192.0.2.1"}}}, uplink, "routes[0].destination: 198.51.100.7/24 has host bits set; the prefix is 198.51.100.0/24"},
		{"a default route", ExtraText{Routes: []RouteText{{"0.0.0.0/0", "192.0.2.1"}}}, uplink, "is a default route"},
		{"a route twice", ExtraText{Routes: []RouteText{{"198.51.100.0/24", "192.0.2.1"}, {"198.51.100.0/24", "192.0.2.2"}}}, uplink, "routes[1].destination: 198.51.100.0/24 is already routes[0]'s"},
		{"an unreachable gateway", ExtraText{Routes: []RouteText{{"198.51.100.0/24", "172.16.0.1"}}}, uplink, "routes[0].gateway: 172.16.0.1 is in none of the link's subnets (192.0.2.10/24)"},
		{"a gateway of another family", ExtraText{Routes: []RouteText{{"2001:db8::/32", "192.0.2.1"}}}, uplink, "routes[0].gateway: 192.0.2.1 is not of the destination's address family"},
		{"the node's own address as gateway", ExtraText{Routes: []RouteText{{"198.51.100.0/24", "192.0.2.10"}}}, uplink, "is one of the node's own addresses"},
		{"a long destination", ExtraText{Routes: []RouteText{{strings.Repeat("1", 100), "192.0.2.1"}}}, uplink, "routes[0].destination: 100 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseExtra(tc.text, tc.uplink)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			case tc.want == "" && len(e.VLANs) != len(tc.text.VLANs):
				t.Fatalf("got %d VLANs, want %d", len(e.VLANs), len(tc.text.VLANs))
			}
		})
	}
}

func TestVLANName(t *testing.T) {
	if got := (VLAN{ID: 4094}).Name(); got != "vlan4094" {
		t.Errorf("got %q", got)
	}
}

// FuzzParseExtra checks that no input panics the parser and that no error echoes much more
// than the bounded fields.
func FuzzParseExtra(f *testing.F) {
	f.Add(uint32(1500), uint32(100), "10.100.0.5/24", "198.51.100.0/24", "10.100.0.1")
	f.Add(uint32(0), uint32(0), "", "", "")
	f.Fuzz(func(t *testing.T, mtu, id uint32, addr, dst, gw string) {
		_, err := ParseExtra(ExtraText{MTU: mtu, VLANs: []VLANText{{ID: id, Addresses: []string{addr}}},
			Routes: []RouteText{{dst, gw}}}, []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")})
		if err != nil && len(err.Error()) > 400 {
			t.Fatalf("an error of %d bytes: %.100q", len(err.Error()), err)
		}
	})
}
