package netpol

import (
	"net/netip"
	"slices"
)

// verdict is what a ClusterNetworkPolicy rule does with the traffic it
// matches.
type verdict uint8

const (
	// verdictAccept lets the traffic through: later rules and tiers are not asked.
	verdictAccept verdict = iota + 1
	// verdictDeny refuses it: later rules and tiers are not asked.
	verdictDeny
	// verdictPass skips the rest of its tier: the next tier decides.
	verdictPass
)

// tierRule is one rule of a ClusterNetworkPolicy, for one pod and
// direction: the traffic it matches (peer ranges × ports) and its verdict.
type tierRule struct {
	verdict verdict
	region  []Allow
}

// resolve is what one direction of one pod lets through, tier by tier, as
// ClusterNetworkPolicy defines it: the Admin tier's rules in order of
// precedence, then the NetworkPolicy tier (which decides everything if a
// NetworkPolicy isolates the pod), then the Baseline tier's rules, then the
// default, which allows. The answer is in the form the kernel rules take: is
// the direction isolated, and what its allow set holds.
//
// It cuts the traffic space into cells, along every edge of any rule's peer
// ranges and port ranges, and asks the tiers once per cell; a cell is wholly
// inside or outside each rule, so one address and port of it stand for all.
func resolve(admin []tierRule, npIsolated bool, npAllows []Allow, baseline []tierRule) (isolated bool, allows []Allow) {
	if len(admin) == 0 && (npIsolated || len(baseline) == 0) {
		return npIsolated, npAllows
	}
	if !npIsolated {
		npAllows = nil
	}
	var everything []Allow
	for _, tier := range [][]tierRule{admin, baseline} {
		for _, r := range tier {
			everything = append(everything, r.region...)
		}
	}
	everything = append(everything, npAllows...)

	open := true // does every cell pass?
	for _, cell := range portCells(everything) {
		// Each rule's peer ranges over this port cell, and the NetworkPolicy tier's.
		peersOf := func(region []Allow) []AddrRange {
			var out []AddrRange
			for _, a := range region {
				if a.Ports.contains(cell) {
					out = append(out, a.Peer)
				}
			}
			return mergeRanges(out)
		}
		adminPeers, baselinePeers := make([][]AddrRange, len(admin)), make([][]AddrRange, len(baseline))
		var cuts []uint64
		for i, r := range admin {
			adminPeers[i] = peersOf(r.region)
			cuts = appendCuts(cuts, adminPeers[i])
		}
		for i, r := range baseline {
			baselinePeers[i] = peersOf(r.region)
			cuts = appendCuts(cuts, baselinePeers[i])
		}
		netpolPeers := peersOf(npAllows)
		cuts = appendCuts(cuts, netpolPeers)
		cuts = append(cuts, 0, 1<<32)
		slices.Sort(cuts)
		cuts = slices.Compact(cuts)

		var passing []AddrRange
		for i := 0; i+1 < len(cuts); i++ {
			a := addr(uint32(cuts[i]))
			if !passes(a, admin, adminPeers, npIsolated, netpolPeers, baseline, baselinePeers) {
				open = false
				continue
			}
			passing = append(passing, AddrRange{From: a, To: addr(uint32(cuts[i+1] - 1))})
		}
		for _, peer := range mergeRanges(passing) {
			allows = append(allows, Allow{Peer: peer, Ports: cell})
		}
	}
	if open {
		return false, nil
	}
	return true, mergeAllows(joinPortCells(allows))
}

// passes asks the tiers about traffic with peer a, in one port cell.
func passes(a netip.Addr, admin []tierRule, adminPeers [][]AddrRange, npIsolated bool, netpolPeers []AddrRange, baseline []tierRule, baselinePeers [][]AddrRange) bool {
	if v, ok := firstMatch(a, admin, adminPeers); ok && v != verdictPass {
		return v == verdictAccept
	}
	if npIsolated {
		return rangesContain(netpolPeers, a)
	}
	if v, ok := firstMatch(a, baseline, baselinePeers); ok && v != verdictPass {
		return v == verdictAccept
	}
	return true
}

func firstMatch(a netip.Addr, rules []tierRule, peers [][]AddrRange) (verdict, bool) {
	for i, r := range rules {
		if rangesContain(peers[i], a) {
			return r.verdict, true
		}
	}
	return 0, false
}

// rangesContain says whether a is in sorted, merged ranges.
func rangesContain(ranges []AddrRange, a netip.Addr) bool {
	i, _ := slices.BinarySearchFunc(ranges, a, func(r AddrRange, a netip.Addr) int {
		if r.To.Compare(a) < 0 {
			return -1
		}
		if r.From.Compare(a) > 0 {
			return 1
		}
		return 0
	})
	return i < len(ranges) && ranges[i].contains(a)
}

func appendCuts(cuts []uint64, ranges []AddrRange) []uint64 {
	for _, r := range ranges {
		cuts = append(cuts, uint64(u32(r.From)), uint64(u32(r.To))+1)
	}
	return cuts
}

// portCells cuts the protocol and port axis along every edge of regions'
// ports: per explicit protocol, port ranges no region's edge falls inside;
// and OtherProtocols.
func portCells(regions []Allow) []Ports {
	var out []Ports
	for _, proto := range explicitProtocols {
		cuts := []int{0, 1 << 16}
		for _, a := range regions {
			if a.Ports.Protocol == proto {
				cuts = append(cuts, int(a.Ports.From), int(a.Ports.To)+1)
			}
		}
		slices.Sort(cuts)
		cuts = slices.Compact(cuts)
		for i := 0; i+1 < len(cuts); i++ {
			out = append(out, Ports{Protocol: proto, From: uint16(cuts[i]), To: uint16(cuts[i+1] - 1)})
		}
	}
	return append(out, OtherProtocols)
}

// joinPortCells writes allows, made cell by cell in portCells' order, with
// fewer entries: neighbouring port cells of one protocol with the same peers
// become one range; if then every protocol allows the same peers over all
// its ports, they become AllPorts.
func joinPortCells(allows []Allow) []Allow {
	byCell := map[Ports][]AddrRange{}
	var cells []Ports
	for _, a := range allows {
		if _, ok := byCell[a.Ports]; !ok {
			cells = append(cells, a.Ports)
		}
		byCell[a.Ports] = append(byCell[a.Ports], a.Peer)
	}
	var out []Allow
	for i := 0; i < len(cells); {
		j := i + 1
		for j < len(cells) && cells[j].Protocol == cells[i].Protocol && cells[j] != OtherProtocols &&
			int(cells[j].From) == int(cells[j-1].To)+1 && slices.Equal(byCell[cells[j]], byCell[cells[i]]) {
			j++
		}
		joined := Ports{Protocol: cells[i].Protocol, From: cells[i].From, To: cells[j-1].To}
		for _, peer := range byCell[cells[i]] {
			out = append(out, Allow{Peer: peer, Ports: joined})
		}
		i = j
	}
	return allPortsIfUniform(out)
}

// allPortsIfUniform is allows as AllPorts allows if they hold, for each of
// TCP, UDP and SCTP over all ports and for OtherProtocols, the same peers.
func allPortsIfUniform(allows []Allow) []Allow {
	byPorts := map[Ports][]AddrRange{}
	for _, a := range allows {
		byPorts[a.Ports] = append(byPorts[a.Ports], a.Peer)
	}
	others, ok := byPorts[OtherProtocols]
	if !ok || len(byPorts) != len(explicitProtocols)+1 {
		return allows
	}
	for _, proto := range explicitProtocols {
		if !slices.Equal(byPorts[Ports{Protocol: proto, From: 0, To: 65535}], others) {
			return allows
		}
	}
	var out []Allow
	for _, peer := range others {
		out = append(out, Allow{Peer: peer, Ports: AllPorts})
	}
	return out
}
