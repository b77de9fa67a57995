package netpol

import (
	"net/netip"
)

// Protocol is a transport protocol by its IANA number, as the kernel's meta
// l4proto sees it.
type Protocol uint8

const (
	ProtocolTCP  Protocol = 6
	ProtocolUDP  Protocol = 17
	ProtocolSCTP Protocol = 132
)

// Ports is a range of one protocol's ports, inclusive. The zero Protocol with
// ports 0-65535 stands for every protocol and port, which a rule without
// ports allows (ICMP included); with ports 0-0 it stands for the protocols
// that have no ports here (all but TCP, UDP and SCTP), which only a
// ClusterNetworkPolicy's tiers can leave open on their own.
type Ports struct {
	Protocol Protocol
	From, To uint16
}

// AllPorts is what a rule without ports allows.
var AllPorts = Ports{From: 0, To: 65535}

// OtherProtocols is every protocol but TCP, UDP and SCTP, over every port.
var OtherProtocols = Ports{From: 0, To: 0}

// IsAll says whether p stands for every protocol.
func (p Ports) IsAll() bool { return p == AllPorts }

// contains says whether p covers the whole of q.
func (p Ports) contains(q Ports) bool {
	switch {
	case p.IsAll():
		return true
	case p == OtherProtocols || q == OtherProtocols || q.IsAll():
		return p == q
	}
	return p.Protocol == q.Protocol && p.From <= q.From && q.To <= p.To
}

// AddrRange is an inclusive range of IPv4 addresses.
type AddrRange struct {
	From, To netip.Addr
}

// Allow is one kind of traffic a rule lets through: peers in Peer, to or from
// Ports.
type Allow struct {
	Peer  AddrRange
	Ports Ports
}

// Rules is what the policies ask of one pod on this node.
type Rules struct {
	// Pod is "namespace/name", for logs.
	Pod string
	IP  netip.Addr
	// IngressIsolated and EgressIsolated say whether a policy selects the pod
	// for that direction. Traffic in an isolated direction passes only if an
	// Allow of that direction matches; in the other, everything passes.
	IngressIsolated, EgressIsolated bool
	// Ingress and Egress are sorted, with overlapping and adjacent peer ranges
	// of the same ports merged.
	Ingress, Egress []Allow
}
