package ipconfig

import (
	"net/netip"
	"strings"
	"testing"
)

func validStatic() Text {
	return Text{
		HardwareAddress: "52:54:00:12:34:56",
		Addresses:       []string{"192.0.2.10/24", "2001:db8::10/64"},
		Gateways:        []string{"192.0.2.1", "fe80::1"},
		Nameservers:     []string{"192.0.2.53", "2001:db8::53"},
	}
}

func TestParseStaticValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		text Text
	}{
		{"all fields", validStatic()},
		{"one address", Text{Addresses: []string{"10.0.0.5/8"}}},
		{"/31 network address", Text{Addresses: []string{"192.0.2.0/31"}, Gateways: []string{"192.0.2.1"}}},
		{"/32 host", Text{Addresses: []string{"192.0.2.7/32"}}},
		{"IPv6 gateway in subnet", Text{Addresses: []string{"2001:db8::10/64"}, Gateways: []string{"2001:db8::1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseStatic(tc.text); err != nil {
				t.Fatalf("ParseStatic: %v", err)
			}
		})
	}

	p, err := ParseStatic(validStatic())
	if err != nil {
		t.Fatal(err)
	}
	if got := p.HardwareAddress.String(); got != "52:54:00:12:34:56" {
		t.Errorf("hardware address %s", got)
	}
	wantAddrs := []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24"), netip.MustParsePrefix("2001:db8::10/64")}
	if len(p.Addresses) != 2 || p.Addresses[0] != wantAddrs[0] || p.Addresses[1] != wantAddrs[1] {
		t.Errorf("addresses %v, want %v", p.Addresses, wantAddrs)
	}
	if len(p.Gateways) != 2 || len(p.Nameservers) != 2 {
		t.Errorf("gateways %v, nameservers %v", p.Gateways, p.Nameservers)
	}
}

func TestParseStaticErrors(t *testing.T) {
	edit := func(f func(s *Text)) Text {
		s := validStatic()
		f(&s)
		return s
	}
	for _, tc := range []struct {
		name string
		text Text
		want string
	}{
		{"bad hardware address", edit(func(s *Text) { s.HardwareAddress = "52:54:00" }), "hardware_address:"},
		{"long hardware address", edit(func(s *Text) { s.HardwareAddress = "00:00:00:00:fe:80:00:00" }), "hardware_address: \"00:00:00:00:fe:80:00:00\" is not an Ethernet"},
		{"no addresses", edit(func(s *Text) { s.Addresses = nil }), "addresses: must list at least one"},
		{"bad CIDR", edit(func(s *Text) { s.Addresses = []string{"192.0.2.10/33"} }), "addresses[0]: want an address with prefix length"},
		{"address without prefix", edit(func(s *Text) { s.Addresses[1] = "2001:db8::10" }), "addresses[1]: want an address with prefix length"},
		{"network address", edit(func(s *Text) { s.Addresses[0] = "192.0.2.0/24" }), "addresses[0]: 192.0.2.0 is the network address of 192.0.2.0/24"},
		{"broadcast address", edit(func(s *Text) { s.Addresses[0] = "192.0.2.255/24" }), "addresses[0]: 192.0.2.255 is the broadcast address of 192.0.2.0/24"},
		{"broadcast address /20", edit(func(s *Text) { s.Addresses[0] = "10.1.15.255/20" }), "10.1.15.255 is the broadcast address of 10.1.0.0/20"},
		{"loopback address", edit(func(s *Text) { s.Addresses[0] = "127.0.0.2/8" }), "addresses[0]: 127.0.0.2 is a loopback address"},
		{"unspecified address", edit(func(s *Text) { s.Addresses[1] = "::/0" }), "addresses[1]: :: is the unspecified address"},
		{"mapped address", edit(func(s *Text) { s.Addresses[0] = "::ffff:192.0.2.10/120" }), "IPv4-mapped"},
		{"link-local address", edit(func(s *Text) { s.Addresses[1] = "fe80::10/64" }), "addresses[1]: fe80::10 is link-local"},
		{"duplicate address", edit(func(s *Text) { s.Addresses = append(s.Addresses, "192.0.2.10/25") }), "addresses[2]: 192.0.2.10 is already addresses[0]"},
		{"gateway not an address", edit(func(s *Text) { s.Gateways[0] = "router" }), "gateways[0]: want an IP address"},
		{"gateway with zone", edit(func(s *Text) { s.Gateways[1] = "fe80::1%eth0" }), "gateways[1]: \"fe80::1%eth0\" has a zone"},
		{"gateway outside subnets", edit(func(s *Text) { s.Gateways[0] = "198.51.100.1" }), "gateways[0]: 198.51.100.1 is in none of the link's subnets (192.0.2.10/24)"},
		{"IPv6 gateway outside subnets", edit(func(s *Text) { s.Gateways[1] = "2001:db9::1" }), "gateways[1]: 2001:db9::1 is in none of the link's subnets (2001:db8::10/64)"},
		{"gateway of a family without address", Text{Addresses: []string{"2001:db8::10/64"}, Gateways: []string{"192.0.2.1"}}, "gateways[0]: 192.0.2.1: the node has no address of its family"},
		{"gateway is own address", edit(func(s *Text) { s.Gateways[0] = "192.0.2.10" }), "gateways[0]: 192.0.2.10 is one of the node's own addresses"},
		{"two IPv4 gateways", edit(func(s *Text) { s.Gateways = append(s.Gateways, "192.0.2.2") }), "gateways[2]: 192.0.2.2 is a second gateway of its address family (after gateways[0] 192.0.2.1)"},
		{"multicast nameserver", edit(func(s *Text) { s.Nameservers[1] = "224.0.0.251" }), "nameservers[1]: 224.0.0.251 is a multicast address"},
		{"nameserver with port", edit(func(s *Text) { s.Nameservers[0] = "192.0.2.53:53" }), "nameservers[0]: want an IP address"},
		{"overlong hardware address echoed only in part", edit(func(s *Text) { s.HardwareAddress = strings.Repeat("0", 5000) }), "hardware_address: 5000 bytes, longer than any address"},
		{"overlong gateway", edit(func(s *Text) { s.Gateways[0] = strings.Repeat("1", 100) }), "gateways[0]: 100 bytes"},
		{"broadcast nameserver", edit(func(s *Text) { s.Nameservers[0] = "255.255.255.255" }), "nameservers[0]: 255.255.255.255 is the broadcast address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseStatic(tc.text)
			if err == nil {
				t.Fatalf("ParseStatic accepted it, want an error saying %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// FuzzParseStatic feeds arbitrary text to ParseStatic. It must not panic, and what it accepts
// must be consistent: at least one address, no duplicate, every gateway on the link.
func FuzzParseStatic(f *testing.F) {
	f.Add("52:54:00:12:34:56", "192.0.2.10/24", "2001:db8::10/64", "192.0.2.1", "192.0.2.53")
	f.Add("", "192.0.2.0/31", "", "192.0.2.1", "")
	f.Add("", "2001:db8::10/64", "", "fe80::1", "::1")
	f.Fuzz(func(t *testing.T, hw, addr1, addr2, gw, ns string) {
		text := Text{HardwareAddress: hw, Addresses: nonEmpty(addr1, addr2), Gateways: nonEmpty(gw), Nameservers: nonEmpty(ns)}
		p, err := ParseStatic(text)
		if err != nil {
			if !strings.Contains(err.Error(), ":") || len(err.Error()) > 512 {
				t.Fatalf("error %q does not name the field briefly", err)
			}
			return
		}
		if len(p.Addresses) == 0 {
			t.Fatalf("accepted %+v without addresses", text)
		}
		for _, g := range p.Gateways {
			onLink := g.Is6() && g.IsLinkLocalUnicast()
			for _, a := range p.Addresses {
				onLink = onLink || a.Contains(g)
			}
			if !onLink {
				t.Fatalf("gateway %s is not on the link (%v)", g, p.Addresses)
			}
		}
	})
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}
