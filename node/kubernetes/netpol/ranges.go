package netpol

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
)

// Address arithmetic on IPv4 addresses as integers, for ipBlocks with
// exceptions and for merging neighbouring peers into one set element.

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func addr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// prefixRange is the range prefix covers; ok is false unless it is IPv4.
func prefixRange(p netip.Prefix) (AddrRange, bool) {
	if !p.IsValid() || !p.Addr().Is4() {
		return AddrRange{}, false
	}
	p = p.Masked()
	first := u32(p.Addr())
	last := first | uint32(uint64(1)<<(32-p.Bits())-1)
	return AddrRange{From: addr(first), To: addr(last)}, true
}

func single(a netip.Addr) AddrRange { return AddrRange{From: a, To: a} }

// anyAddr is every IPv4 address: the peer of a rule without peers.
var anyAddr = AddrRange{From: addr(0), To: addr(^uint32(0))}

func (r AddrRange) contains(a netip.Addr) bool {
	return a.Is4() && r.From.Compare(a) <= 0 && a.Compare(r.To) <= 0
}

// subtract is r without the addresses in cut, as zero, one or two ranges.
func (r AddrRange) subtract(cut AddrRange) []AddrRange {
	lo, hi, cutLo, cutHi := u32(r.From), u32(r.To), u32(cut.From), u32(cut.To)
	if cutHi < lo || cutLo > hi {
		return []AddrRange{r}
	}
	var out []AddrRange
	if cutLo > lo {
		out = append(out, AddrRange{From: r.From, To: addr(cutLo - 1)})
	}
	if cutHi < hi {
		out = append(out, AddrRange{From: addr(cutHi + 1), To: r.To})
	}
	return out
}

// mergeAllows sorts allows by ports and peer, and joins peer ranges of the
// same ports that overlap or touch, so equal policies written in any order
// give the same, smallest set of elements.
func mergeAllows(allows []Allow) []Allow {
	slices.SortFunc(allows, func(a, b Allow) int {
		return cmp.Or(
			cmp.Compare(a.Ports.Protocol, b.Ports.Protocol), cmp.Compare(a.Ports.From, b.Ports.From),
			cmp.Compare(a.Ports.To, b.Ports.To), a.Peer.From.Compare(b.Peer.From), a.Peer.To.Compare(b.Peer.To))
	})
	var out []Allow
	for _, a := range allows {
		if n := len(out); n > 0 && out[n-1].Ports == a.Ports {
			last := &out[n-1]
			if u32(last.Peer.To) == ^uint32(0) || u32(a.Peer.From) <= u32(last.Peer.To)+1 {
				if a.Peer.To.Compare(last.Peer.To) > 0 {
					last.Peer.To = a.Peer.To
				}
				continue
			}
		}
		out = append(out, a)
	}
	return out
}
