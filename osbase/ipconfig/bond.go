package ipconfig

import (
	"bytes"
	"errors"
	"fmt"
	"net"
)

// A bond makes the uplink one link over several network cards (Linux's bonding driver): the
// node's addresses, VLANs and routes go on the bond, and the cards are its members. It is how
// a node stays on its network when a card, cable or switch port fails.

// BondName is the bond's link name on the node.
const BondName = "bond0"

// Bond modes, as the kernel names them.
const (
	// BondActiveBackup uses one member at a time and moves to another when it loses its
	// link: it works with any switch, and is the default.
	BondActiveBackup = "active-backup"
	// Bond8023AD is IEEE 802.3ad dynamic link aggregation (LACP): the switch must take part.
	Bond8023AD = "802.3ad"
)

// bondModes are the modes a bond may have: Linux's, which all but active-backup, broadcast and
// the adaptive ones need the switch to be configured for.
var bondModes = []string{BondActiveBackup, Bond8023AD, "balance-rr", "balance-xor", "broadcast", "balance-tlb", "balance-alb"}

const (
	// maxBondMembers bounds a bond's cards; machines have a few.
	maxBondMembers = 8
	// DefaultMIIInterval is how often, in milliseconds, the bond looks at its members' links
	// when the configuration says nothing.
	DefaultMIIInterval = 100
	minMIIInterval     = 10
	maxMIIInterval     = 10000
)

// BondText is a bond as a person writes it.
type BondText struct {
	// Members are the hardware addresses of the bond's network cards, e.g. "52:54:00:12:34:56".
	Members []string
	// Mode is one of bondModes; empty: active-backup.
	Mode string
	// MIIIntervalMS is how often the bond looks at its members' links, 10 to 10000 ms; 0:
	// DefaultMIIInterval.
	MIIIntervalMS uint32
}

// Bond is a checked BondText.
type Bond struct {
	Members       []net.HardwareAddr
	Mode          string
	MIIIntervalMS int
}

// ParseBond checks t. Errors name the field, e.g. "members[1]: 52:54:00:12:34:56 is already
// members[0]".
func ParseBond(t BondText) (*Bond, error) {
	b := &Bond{Mode: t.Mode, MIIIntervalMS: int(t.MIIIntervalMS)}
	if len(t.Members) == 0 {
		return nil, errors.New("members: must list the hardware address of at least one network card, e.g. 52:54:00:12:34:56")
	}
	if len(t.Members) > maxBondMembers {
		return nil, fmt.Errorf("members: %d, at most %d", len(t.Members), maxBondMembers)
	}
	for i, m := range t.Members {
		if err := checkLength(m); err != nil {
			return nil, fmt.Errorf("members[%d]: %w", i, err)
		}
		mac, err := net.ParseMAC(m)
		if err != nil {
			return nil, fmt.Errorf("members[%d]: %w", i, err)
		}
		if len(mac) != 6 {
			return nil, fmt.Errorf("members[%d]: %q is not an Ethernet (6-byte) address", i, m)
		}
		if mac[0]&1 != 0 {
			return nil, fmt.Errorf("members[%d]: %s is a multicast address, no network card's", i, mac)
		}
		for j, other := range b.Members {
			if bytes.Equal(other, mac) {
				return nil, fmt.Errorf("members[%d]: %s is already members[%d]", i, mac, j)
			}
		}
		b.Members = append(b.Members, mac)
	}
	if b.Mode == "" {
		b.Mode = BondActiveBackup
	}
	known := false
	for _, m := range bondModes {
		known = known || m == b.Mode
	}
	if !known {
		return nil, fmt.Errorf("mode: %.40q is none of %v", t.Mode, bondModes)
	}
	if b.MIIIntervalMS == 0 {
		b.MIIIntervalMS = DefaultMIIInterval
	}
	if t.MIIIntervalMS != 0 && (t.MIIIntervalMS < minMIIInterval || t.MIIIntervalMS > maxMIIInterval) {
		return nil, fmt.Errorf("mii_interval_ms: %d is outside %d to %d", t.MIIIntervalMS, minMIIInterval, maxMIIInterval)
	}
	return b, nil
}

// Text writes b as a person would, for ParseBond to read back.
func (b *Bond) Text() BondText {
	t := BondText{Mode: b.Mode, MIIIntervalMS: uint32(b.MIIIntervalMS)}
	for _, m := range b.Members {
		t.Members = append(t.Members, m.String())
	}
	return t
}

// Equal reports whether b and o are the same bond (both nil, or the same members in the same
// order, mode and interval).
func (b *Bond) Equal(o *Bond) bool {
	if b == nil || o == nil {
		return b == o
	}
	if b.Mode != o.Mode || b.MIIIntervalMS != o.MIIIntervalMS || len(b.Members) != len(o.Members) {
		return false
	}
	for i := range b.Members {
		if !bytes.Equal(b.Members[i], o.Members[i]) {
			return false
		}
	}
	return true
}

// Has reports whether card hw is one of b's members.
func (b *Bond) Has(hw net.HardwareAddr) bool {
	for _, m := range b.Members {
		if bytes.Equal(m, hw) {
			return true
		}
	}
	return false
}

// CheckBondUplink checks that the uplink's hardware address hw, if it names one, is a member of
// bond b: with a bond the uplink is the bond, and a card outside it would be a contradiction.
func CheckBondUplink(b *Bond, hw net.HardwareAddr) error {
	if b == nil || hw == nil || b.Has(hw) {
		return nil
	}
	return fmt.Errorf("%s is not one of bond.members; with a bond the uplink is the bond (leave the hardware address out, or name a member)", hw)
}
