package netconfig

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"metropolis.dev/metropolis/osbase/ipconfig"
)

func ack(t testing.TB, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	base := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.IPv4(192, 0, 2, 50)),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithRouter(net.IPv4(192, 0, 2, 1)),
		dhcpv4.WithDNS(net.IPv4(192, 0, 2, 53)),
		dhcpv4.WithLeaseTime(3600),
	}
	m, err := dhcpv4.New(append(base, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseLease(t *testing.T) {
	l, err := parseLease(ack(t))
	if err != nil {
		t.Fatalf("parseLease: %v", err)
	}
	if l.address != netip.MustParsePrefix("192.0.2.50/24") || l.router != netip.MustParseAddr("192.0.2.1") ||
		len(l.nameservers) != 1 || l.nameservers[0] != netip.MustParseAddr("192.0.2.53") {
		t.Errorf("lease %+v", l)
	}
	if l.duration != time.Hour || l.renewAfter != 30*time.Minute || l.rebindTime != 52*time.Minute+30*time.Second {
		t.Errorf("times: duration %s, T1 %s, T2 %s", l.duration, l.renewAfter, l.rebindTime)
	}
	if s := l.settings(); s.lifetime != time.Hour || len(s.gateways) != 1 {
		t.Errorf("settings %+v", s)
	}
}

func TestParseLeaseCases(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mods    []dhcpv4.Modifier
		wantErr string
		check   func(*lease) bool
	}{
		{"server times used", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(600 * time.Second)), dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(900 * time.Second))}, "",
			func(l *lease) bool { return l.renewAfter == 10*time.Minute && l.rebindTime == 15*time.Minute }},
		{"T1 after T2 ignored", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(3000 * time.Second)), dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(900 * time.Second))}, "",
			func(l *lease) bool { return l.renewAfter == 30*time.Minute && l.rebindTime == 15*time.Minute }},
		{"infinite", []dhcpv4.Modifier{dhcpv4.WithLeaseTime(0xffffffff)}, "",
			func(l *lease) bool { return l.infinite && l.settings().lifetime == 0 }},
		{"short lease renews not too often", []dhcpv4.Modifier{dhcpv4.WithLeaseTime(4)}, "",
			func(l *lease) bool { return l.renewAfter == 2*time.Second }},
		{"no mask: classful", []dhcpv4.Modifier{func(d *dhcpv4.DHCPv4) { d.Options.Del(dhcpv4.OptionSubnetMask) }}, "",
			func(l *lease) bool { return l.address == netip.MustParsePrefix("192.0.2.50/24") }},
		{"bad routers skipped", []dhcpv4.Modifier{dhcpv4.WithRouter(net.IPv4zero, net.IPv4(192, 0, 2, 50), net.IPv4(192, 0, 2, 2))}, "",
			func(l *lease) bool { return l.router == netip.MustParseAddr("192.0.2.2") }},
		{"no router", []dhcpv4.Modifier{func(d *dhcpv4.DHCPv4) { d.Options.Del(dhcpv4.OptionRouter) }}, "",
			func(l *lease) bool { return !l.router.IsValid() && len(l.settings().gateways) == 0 }},
		{"multicast DNS skipped", []dhcpv4.Modifier{dhcpv4.WithDNS(net.IPv4(224, 0, 0, 251), net.IPv4(192, 0, 2, 54))}, "",
			func(l *lease) bool {
				return len(l.nameservers) == 1 && l.nameservers[0] == netip.MustParseAddr("192.0.2.54")
			}},
		{"NTP servers, bad ones skipped", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptNTPServers(net.IPv4(192, 0, 2, 123), net.IPv4(127, 0, 0, 1), net.IPv4(192, 0, 2, 124)))}, "",
			func(l *lease) bool {
				s := l.settings()
				return len(s.ntpServers) == 2 && s.ntpServers[0] == netip.MustParseAddr("192.0.2.123") && s.ntpServers[1] == netip.MustParseAddr("192.0.2.124")
			}},
		{"not an ACK", []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer)}, "not an ACK", nil},
		{"no address", []dhcpv4.Modifier{dhcpv4.WithYourIP(net.IPv4zero)}, "unusable address", nil},
		{"non-contiguous mask", []dhcpv4.Modifier{dhcpv4.WithNetmask(net.IPv4Mask(255, 0, 255, 0))}, "non-contiguous", nil},
		{"no lease time", []dhcpv4.Modifier{func(d *dhcpv4.DHCPv4) { d.Options.Del(dhcpv4.OptionIPAddressLeaseTime) }}, "no lease time", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := parseLease(ack(t, tc.mods...))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseLease = %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseLease: %v", err)
			}
			if !tc.check(l) {
				t.Errorf("unexpected lease %+v", l)
			}
		})
	}
}

// FuzzParseLease feeds arbitrary DHCP packets to parseLease: it must not panic, and a lease it
// accepts must be usable (a unicast IPv4 address, times in order).
func FuzzParseLease(f *testing.F) {
	f.Add(ack(f).ToBytes())
	f.Add(ack(f, dhcpv4.WithLeaseTime(0xffffffff)).ToBytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := dhcpv4.FromBytes(data)
		if err != nil {
			return
		}
		l, err := parseLease(m)
		if err != nil {
			return
		}
		if !l.address.Addr().Is4() || ipconfig.CheckUnicast(l.address.Addr()) != nil {
			t.Fatalf("accepted address %s", l.address)
		}
		if !l.infinite && (l.renewAfter <= 0 || l.renewAfter > l.rebindTime || l.rebindTime > l.duration) {
			t.Fatalf("times out of order: T1 %s, T2 %s, lease %s", l.renewAfter, l.rebindTime, l.duration)
		}
	})
}
