package ipconfig

import (
	"net"
	"strings"
	"testing"
)

func TestParseBond(t *testing.T) {
	const a, b = "52:54:00:12:34:56", "52:54:00:12:34:57"
	for _, tc := range []struct {
		name string
		text BondText
		want string // fragment of the error; empty: accepted
	}{
		{"two cards, defaults", BondText{Members: []string{a, b}}, ""},
		{"LACP, slower monitoring", BondText{Members: []string{a, b}, Mode: "802.3ad", MIIIntervalMS: 500}, ""},
		{"one card", BondText{Members: []string{a}}, ""},
		{"no members", BondText{}, "members: must list the hardware address of at least one"},
		{"too many", BondText{Members: strings.Split(strings.Repeat(a+",", 9), ",")[:9]}, "members: 9, at most 8"},
		{"a card twice", BondText{Members: []string{a, strings.ToUpper(a)}}, "members[1]: 52:54:00:12:34:56 is already members[0]"},
		{"not an address", BondText{Members: []string{a, "eth1"}}, "members[1]: address eth1: invalid MAC address"},
		{"an InfiniBand address", BondText{Members: []string{"00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01"}}, "members[0]: \"00:00:00:00:fe:80"},
		{"a multicast address", BondText{Members: []string{"01:00:5e:00:00:01"}}, "members[0]: 01:00:5e:00:00:01 is a multicast address"},
		{"a long member", BondText{Members: []string{strings.Repeat("5", 300)}}, "members[0]: 300 bytes"},
		{"an unknown mode", BondText{Members: []string{a}, Mode: "fastest"}, `mode: "fastest" is none of [active-backup 802.3ad`},
		{"monitoring too often", BondText{Members: []string{a}, MIIIntervalMS: 5}, "mii_interval_ms: 5 is outside 10 to 10000"},
		{"monitoring too rarely", BondText{Members: []string{a}, MIIIntervalMS: 60000}, "mii_interval_ms: 60000 is outside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseBond(tc.text)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			case tc.want == "" && (got.Mode == "" || got.MIIIntervalMS == 0 || len(got.Members) != len(tc.text.Members)):
				t.Fatalf("got %+v, want the defaults filled in and every member", got)
			}
		})
	}
}

func TestParseExtraChecksTheBond(t *testing.T) {
	_, err := ParseExtra(ExtraText{Bond: &BondText{Members: []string{"52:54:00:12:34:56"}, Mode: "x"}}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "bond.mode: ") {
		t.Errorf("got %v, want an error naming bond.mode", err)
	}
}

func TestCheckBondUplink(t *testing.T) {
	b, err := ParseBond(BondText{Members: []string{"52:54:00:12:34:56", "52:54:00:12:34:57"}})
	if err != nil {
		t.Fatal(err)
	}
	member, _ := net.ParseMAC("52:54:00:12:34:57")
	other, _ := net.ParseMAC("52:54:00:12:34:58")
	for _, tc := range []struct {
		name string
		bond *Bond
		hw   net.HardwareAddr
		ok   bool
	}{
		{"no bond", nil, other, true},
		{"no hardware address", b, nil, true},
		{"a member", b, member, true},
		{"a card outside the bond", b, other, false},
	} {
		if err := CheckBondUplink(tc.bond, tc.hw); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestBondEqual(t *testing.T) {
	ab, _ := ParseBond(BondText{Members: []string{"52:54:00:00:00:01", "52:54:00:00:00:02"}})
	ba, _ := ParseBond(BondText{Members: []string{"52:54:00:00:00:02", "52:54:00:00:00:01"}})
	abLACP, _ := ParseBond(BondText{Members: []string{"52:54:00:00:00:01", "52:54:00:00:00:02"}, Mode: Bond8023AD})
	again, _ := ParseBond(ab.Text())
	for _, tc := range []struct {
		name string
		x, y *Bond
		want bool
	}{
		{"nil and nil", nil, nil, true},
		{"nil and a bond", nil, ab, false},
		{"read back", ab, again, true},
		// The first member gives the bond its hardware address: the order matters.
		{"members in another order", ab, ba, false},
		{"another mode", ab, abLACP, false},
	} {
		if got := tc.x.Equal(tc.y); got != tc.want {
			t.Errorf("%s: Equal = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzParseBond checks that no input panics the parser, that no error echoes much, and that
// what it accepts reads back the same.
func FuzzParseBond(f *testing.F) {
	f.Add("52:54:00:12:34:56", "52:54:00:12:34:57", "active-backup", uint32(100))
	f.Add("", "", "", uint32(0))
	f.Fuzz(func(t *testing.T, m1, m2, mode string, interval uint32) {
		b, err := ParseBond(BondText{Members: nonEmpty(m1, m2), Mode: mode, MIIIntervalMS: interval})
		if err != nil {
			if len(err.Error()) > 400 {
				t.Fatalf("an error of %d bytes: %.100q", len(err.Error()), err)
			}
			return
		}
		again, err := ParseBond(b.Text())
		if err != nil || !again.Equal(b) {
			t.Fatalf("read back as %+v, %v; want %+v", again, err, b)
		}
	})
}
