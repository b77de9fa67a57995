package netconfig

import (
	"net/netip"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
)

func static(s *apb.NetworkConfig_StaticMode) *apb.NetworkConfig {
	return &apb.NetworkConfig{Mode: &apb.NetworkConfig_Static{Static: s}}
}

func validStatic() *apb.NetworkConfig_StaticMode {
	return &apb.NetworkConfig_StaticMode{
		HardwareAddress: "52:54:00:12:34:56",
		Addresses:       []string{"192.0.2.10/24", "2001:db8::10/64"},
		Gateways:        []string{"192.0.2.1", "fe80::1"},
		Nameservers:     []string{"192.0.2.53", "2001:db8::53"},
	}
}

func TestParseConfigValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    *apb.NetworkConfig
		dhcp bool
	}{
		{"nil is DHCP", nil, true},
		{"DHCP", &apb.NetworkConfig{Mode: &apb.NetworkConfig_Dhcp{Dhcp: &apb.NetworkConfig_DhcpMode{}}}, true},
		{"static, all fields", static(validStatic()), false},
		{"static, one address", static(&apb.NetworkConfig_StaticMode{Addresses: []string{"10.0.0.5/8"}}), false},
		{"static, /31 network address", static(&apb.NetworkConfig_StaticMode{Addresses: []string{"192.0.2.0/31"}, Gateways: []string{"192.0.2.1"}}), false},
		{"static, /32 host", static(&apb.NetworkConfig_StaticMode{Addresses: []string{"192.0.2.7/32"}}), false},
		{"static, IPv6 gateway in subnet", static(&apb.NetworkConfig_StaticMode{Addresses: []string{"2001:db8::10/64"}, Gateways: []string{"2001:db8::1"}}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parse(tc.n)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if p.dhcp != tc.dhcp {
				t.Errorf("dhcp = %v, want %v", p.dhcp, tc.dhcp)
			}
		})
	}

	p, err := parse(static(validStatic()))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.hardwareAddress.String(); got != "52:54:00:12:34:56" {
		t.Errorf("hardware address %s", got)
	}
	wantAddrs := []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24"), netip.MustParsePrefix("2001:db8::10/64")}
	if len(p.addresses) != 2 || p.addresses[0] != wantAddrs[0] || p.addresses[1] != wantAddrs[1] {
		t.Errorf("addresses %v, want %v", p.addresses, wantAddrs)
	}
	if len(p.gateways) != 2 || len(p.nameservers) != 2 {
		t.Errorf("gateways %v, nameservers %v", p.gateways, p.nameservers)
	}
}

func TestParseConfigErrors(t *testing.T) {
	edit := func(f func(s *apb.NetworkConfig_StaticMode)) *apb.NetworkConfig {
		s := validStatic()
		f(s)
		return static(s)
	}
	for _, tc := range []struct {
		name string
		n    *apb.NetworkConfig
		want string
	}{
		{"no mode", &apb.NetworkConfig{}, "network: neither dhcp nor static is set"},
		{"bad hardware address", edit(func(s *apb.NetworkConfig_StaticMode) { s.HardwareAddress = "52:54:00" }), "network.static.hardware_address:"},
		{"long hardware address", edit(func(s *apb.NetworkConfig_StaticMode) { s.HardwareAddress = "00:00:00:00:fe:80:00:00" }), "network.static.hardware_address: \"00:00:00:00:fe:80:00:00\" is not an Ethernet"},
		{"no addresses", edit(func(s *apb.NetworkConfig_StaticMode) { s.Addresses = nil }), "network.static.addresses: must list at least one"},
		{"bad CIDR", edit(func(s *apb.NetworkConfig_StaticMode) { s.Addresses = []string{"192.0.2.10/33"} }), "network.static.addresses[0]: want an address with prefix length"},
		{"address without prefix", edit(func(s *apb.NetworkConfig_StaticMode) { s.Addresses[1] = "2001:db8::10" }), "network.static.addresses[1]: want an address with prefix length"},
		{"network address", edit(func(s *apb.NetworkConfig_StaticMode) { s.Addresses[0] = "192.0.2.0/24" }), "network.static.addresses[0]: 192.0.2.0 is the network address of 192.0.2.0/24"},
		{"broadcast address", edit(func(s *apb.NetworkConfig_StaticMode) { s.Addresses[0] = "192.0.2.255/24" }), "network.static.addresses[0]: 192.0.2.255 is the broadcast address of 192.0.2.0/24"},
		{"broadcast address /20", edit(func(s *apb.NetworkConfig_StaticMode) { s.Addresses[0] = "10.1.15.255/20" }), "10.1.15.255 is the broadcast address of 10.1.0.0/20"},
		{"loopback address", edit(func(s *apb.NetworkConfig_StaticMode) { s.Addresses[0] = "127.0.0.2/8" }), "network.static.addresses[0]: 127.0.0.2 is a loopback address"},
		{"unspecified address", edit(func(s *apb.NetworkConfig_StaticMode) { s.Addresses[1] = "::/0" }), "network.static.addresses[1]: :: is the unspecified address"},
		{"mapped address", edit(func(s *apb.NetworkConfig_StaticMode) { s.Addresses[0] = "::ffff:192.0.2.10/120" }), "IPv4-mapped"},
		{"link-local address", edit(func(s *apb.NetworkConfig_StaticMode) { s.Addresses[1] = "fe80::10/64" }), "network.static.addresses[1]: fe80::10 is link-local"},
		{"duplicate address", edit(func(s *apb.NetworkConfig_StaticMode) { s.Addresses = append(s.Addresses, "192.0.2.10/25") }), "network.static.addresses[2]: 192.0.2.10 is already addresses[0]"},
		{"gateway not an address", edit(func(s *apb.NetworkConfig_StaticMode) { s.Gateways[0] = "router" }), "network.static.gateways[0]: want an IP address"},
		{"gateway with zone", edit(func(s *apb.NetworkConfig_StaticMode) { s.Gateways[1] = "fe80::1%eth0" }), "network.static.gateways[1]: \"fe80::1%eth0\" has a zone"},
		{"gateway outside subnets", edit(func(s *apb.NetworkConfig_StaticMode) { s.Gateways[0] = "198.51.100.1" }), "network.static.gateways[0]: 198.51.100.1 is in none of the link's subnets (192.0.2.10/24)"},
		{"IPv6 gateway outside subnets", edit(func(s *apb.NetworkConfig_StaticMode) { s.Gateways[1] = "2001:db9::1" }), "network.static.gateways[1]: 2001:db9::1 is in none of the link's subnets (2001:db8::10/64)"},
		{"gateway of a family without address", static(&apb.NetworkConfig_StaticMode{Addresses: []string{"2001:db8::10/64"}, Gateways: []string{"192.0.2.1"}}), "network.static.gateways[0]: 192.0.2.1: the node has no address of its family"},
		{"gateway is own address", edit(func(s *apb.NetworkConfig_StaticMode) { s.Gateways[0] = "192.0.2.10" }), "network.static.gateways[0]: 192.0.2.10 is one of the node's own addresses"},
		{"two IPv4 gateways", edit(func(s *apb.NetworkConfig_StaticMode) { s.Gateways = append(s.Gateways, "192.0.2.2") }), "network.static.gateways[2]: 192.0.2.2 is a second gateway of its address family (after gateways[0] 192.0.2.1)"},
		{"multicast nameserver", edit(func(s *apb.NetworkConfig_StaticMode) { s.Nameservers[1] = "224.0.0.251" }), "network.static.nameservers[1]: 224.0.0.251 is a multicast address"},
		{"nameserver with port", edit(func(s *apb.NetworkConfig_StaticMode) { s.Nameservers[0] = "192.0.2.53:53" }), "network.static.nameservers[0]: want an IP address"},
		{"broadcast nameserver", edit(func(s *apb.NetworkConfig_StaticMode) { s.Nameservers[0] = "255.255.255.255" }), "network.static.nameservers[0]: 255.255.255.255 is the broadcast address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ParseConfig(tc.n)
			if err == nil {
				t.Fatalf("ParseConfig accepted it, want an error saying %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if _, err := New(Config{Network: tc.n}); err == nil {
				t.Errorf("New accepted it")
			}
		})
	}
}

// FuzzParseConfig feeds arbitrary encoded NetworkConfigs to ParseConfig. It must not panic,
// and what it accepts must be consistent: static plans have an address, every gateway is
// reachable on the link, and apb's own syntax check agrees.
func FuzzParseConfig(f *testing.F) {
	for _, n := range []*apb.NetworkConfig{
		static(validStatic()),
		static(&apb.NetworkConfig_StaticMode{Addresses: []string{"192.0.2.0/31"}, Gateways: []string{"192.0.2.1"}}),
		{Mode: &apb.NetworkConfig_Dhcp{Dhcp: &apb.NetworkConfig_DhcpMode{}}},
		{},
	} {
		b, err := proto.Marshal(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n apb.NetworkConfig
		if err := proto.Unmarshal(data, &n); err != nil {
			return
		}
		p, err := parse(&n)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "network") {
				t.Fatalf("error %q does not name the field", err)
			}
			return
		}
		params := &apb.NodeParameters{
			Cluster: &apb.NodeParameters_ClusterBootstrap{ClusterBootstrap: &apb.ClusterBootstrap{OwnerPublicKey: make([]byte, 32)}},
			Network: &n,
		}
		if err := apb.ValidateNodeParameters(params); err != nil {
			t.Fatalf("ParseConfig accepted what apb.ValidateNodeParameters refuses: %v", err)
		}
		if p.dhcp {
			return
		}
		if len(p.addresses) == 0 {
			t.Fatalf("static plan without addresses")
		}
		for _, gw := range p.gateways {
			if !onLink(gw, p.addresses) {
				t.Fatalf("gateway %s is not on the link (%v)", gw, p.addresses)
			}
		}
	})
}
