package ipconfig

import (
	"reflect"
	"testing"
)

// A checked configuration written down with Text and read back is the same configuration.
func TestTextRoundTrip(t *testing.T) {
	for _, st := range []Text{
		{Addresses: []string{"192.0.2.10/24"}},
		{HardwareAddress: "52:54:00:12:34:56", Addresses: []string{"192.0.2.10/24", "2001:db8::10/64"},
			Gateways: []string{"192.0.2.1", "2001:db8::1"}, Nameservers: []string{"192.0.2.53", "2001:db8::53"}},
	} {
		s, err := ParseStatic(st)
		if err != nil {
			t.Fatalf("ParseStatic(%+v): %v", st, err)
		}
		again, err := ParseStatic(s.Text())
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Errorf("ParseStatic(%+v.Text()) = %+v, %v; want %+v", s.Text(), again, err, s)
		}
	}
	uplink, _ := ParseStatic(Text{Addresses: []string{"192.0.2.10/24"}})
	for _, et := range []ExtraText{
		{},
		{MTU: 9000, VLANs: []VLANText{{ID: 100, MTU: 1500, Addresses: []string{"10.100.0.5/24"}}, {ID: 7, Addresses: []string{"fd00:7::5/64"}}},
			Routes: []RouteText{{"198.51.100.0/24", "192.0.2.1"}, {"203.0.113.0/24", "10.100.0.1"}}},
		{Bond: &BondText{Members: []string{"52:54:00:12:34:56", "52:54:00:12:34:57"}}},
		{Bond: &BondText{Members: []string{"52:54:00:12:34:56"}, Mode: Bond8023AD, MIIIntervalMS: 250}},
	} {
		e, err := ParseExtra(et, uplink.Addresses)
		if err != nil {
			t.Fatalf("ParseExtra(%+v): %v", et, err)
		}
		again, err := ParseExtra(e.Text(), uplink.Addresses)
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Errorf("ParseExtra(%+v.Text()) = %+v, %v; want %+v", e.Text(), again, err, e)
		}
	}
}
