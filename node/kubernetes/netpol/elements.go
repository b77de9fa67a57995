package netpol

import (
	"cmp"
	"slices"
)

// element is one entry of an allow set: ranges in each of the key's fields after the pod's
// address. The kernel's set of concatenated ranges (pipapo) refuses elements that overlap, so
// an Allow list, whose entries may overlap (a rule for every port beside one for port 80),
// is turned into disjoint elements first.
type element struct {
	peer               AddrRange
	protoFrom, protoTo uint8
	portFrom, portTo   uint16
}

// explicitProtocols are the protocols Ports may name; every other protocol number is allowed
// only by AllPorts.
var explicitProtocols = []Protocol{ProtocolTCP, ProtocolUDP, ProtocolSCTP}

// disjointElements covers exactly the traffic allows allows, with elements that do not
// overlap, in a stable order.
func disjointElements(allows []Allow) []element {
	var all []AddrRange // peers of AllPorts and OtherProtocols allows
	for _, a := range allows {
		if a.Ports.IsAll() || a.Ports == OtherProtocols {
			all = append(all, a.Peer)
		}
	}
	var out []element
	// Protocols no Ports can name: what AllPorts and OtherProtocols allow, over every port.
	if merged := mergeRanges(all); len(merged) > 0 {
		for _, gap := range protocolGaps() {
			for _, peer := range merged {
				out = append(out, element{peer: peer, protoFrom: gap[0], protoTo: gap[1], portFrom: 0, portTo: 65535})
			}
		}
	}
	// Each named protocol: the union of its rectangles (peer range × port range) and AllPorts'.
	for _, proto := range explicitProtocols {
		var rects []Allow
		for _, a := range allows {
			switch {
			case a.Ports.IsAll():
				rects = append(rects, Allow{Peer: a.Peer, Ports: Ports{Protocol: proto, From: 0, To: 65535}})
			case a.Ports.Protocol == proto:
				rects = append(rects, a)
			}
		}
		for _, band := range portBands(rects) {
			for _, peer := range band.peers {
				out = append(out, element{peer: peer, protoFrom: uint8(proto), protoTo: uint8(proto), portFrom: band.from, portTo: band.to})
			}
		}
	}
	return out
}

// protocolGaps are the protocol number ranges between the explicit protocols.
func protocolGaps() [][2]uint8 {
	var gaps [][2]uint8
	next := 0
	for _, p := range explicitProtocols {
		if int(p) > next {
			gaps = append(gaps, [2]uint8{uint8(next), uint8(p) - 1})
		}
		next = int(p) + 1
	}
	if next <= 255 {
		gaps = append(gaps, [2]uint8{uint8(next), 255})
	}
	return gaps
}

// band is a range of ports over which the same peers are allowed.
type band struct {
	from, to uint16
	peers    []AddrRange
}

// portBands cuts the port axis where any rectangle starts or ends, unites the peers of the
// rectangles over each piece, and joins neighbouring pieces with equal peers.
func portBands(rects []Allow) []band {
	var cuts []int
	for _, r := range rects {
		cuts = append(cuts, int(r.Ports.From), int(r.Ports.To)+1)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var out []band
	for i := 0; i+1 < len(cuts); i++ {
		from, to := cuts[i], cuts[i+1]-1
		var peers []AddrRange
		for _, r := range rects {
			if int(r.Ports.From) <= from && to <= int(r.Ports.To) {
				peers = append(peers, r.Peer)
			}
		}
		peers = mergeRanges(peers)
		if len(peers) == 0 {
			continue
		}
		if n := len(out); n > 0 && int(out[n-1].to)+1 == from && slices.Equal(out[n-1].peers, peers) {
			out[n-1].to = uint16(to)
			continue
		}
		out = append(out, band{from: uint16(from), to: uint16(to), peers: peers})
	}
	return out
}

// mergeRanges sorts ranges and joins those that overlap or touch.
func mergeRanges(ranges []AddrRange) []AddrRange {
	sorted := slices.Clone(ranges)
	slices.SortFunc(sorted, func(a, b AddrRange) int { return cmp.Or(a.From.Compare(b.From), a.To.Compare(b.To)) })
	var out []AddrRange
	for _, r := range sorted {
		if n := len(out); n > 0 && (u32(out[n-1].To) == ^uint32(0) || u32(r.From) <= u32(out[n-1].To)+1) {
			if r.To.Compare(out[n-1].To) > 0 {
				out[n-1].To = r.To
			}
			continue
		}
		out = append(out, r)
	}
	return out
}
