package netpol

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestDisjointElements(t *testing.T) {
	a, b := peerRange("10.0.0.0", "10.0.0.255"), peerRange("10.0.0.128", "10.0.1.255")
	for _, tc := range []struct {
		name   string
		allows []Allow
		want   []element
	}{
		{"nothing", nil, nil},
		{"one port", []Allow{{a, tcp(80, 80)}}, []element{{a, 6, 6, 80, 80}}},
		{
			"overlapping peers on one port are joined",
			[]Allow{{a, tcp(80, 80)}, {b, tcp(80, 80)}},
			[]element{{peerRange("10.0.0.0", "10.0.1.255"), 6, 6, 80, 80}},
		},
		{
			"a port inside a range of another peer is cut out",
			[]Allow{{a, tcp(80, 90)}, {b, tcp(85, 85)}},
			[]element{
				{a, 6, 6, 80, 84},
				{peerRange("10.0.0.0", "10.0.1.255"), 6, 6, 85, 85},
				{a, 6, 6, 86, 90},
			},
		},
		{
			"every port and protocol, beside UDP 53 of a wider peer",
			[]Allow{{a, AllPorts}, {b, udp(53, 53)}},
			[]element{
				{a, 0, 5, 0, 65535}, {a, 7, 16, 0, 65535}, {a, 18, 131, 0, 65535}, {a, 133, 255, 0, 65535},
				{a, 6, 6, 0, 65535},
				{a, 17, 17, 0, 52}, {peerRange("10.0.0.0", "10.0.1.255"), 17, 17, 53, 53}, {a, 17, 17, 54, 65535},
				{a, 132, 132, 0, 65535},
			},
		},
		{
			"the other protocols alone (a ClusterNetworkPolicy denied TCP, UDP and SCTP)",
			[]Allow{{a, OtherProtocols}},
			[]element{{a, 0, 5, 0, 65535}, {a, 7, 16, 0, 65535}, {a, 18, 131, 0, 65535}, {a, 133, 255, 0, 65535}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := disjointElements(tc.allows)
			if len(got) != len(tc.want) {
				t.Fatalf("disjointElements = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("disjointElements = %+v, want %+v", got, tc.want)
				}
			}
		})
	}
}

// FuzzDisjointElements checks, for random allows, that the elements do not overlap (the
// kernel refuses overlaps) and allow exactly what the allows allow, at random points and at
// every range's corners.
func FuzzDisjointElements(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Fuzz(func(t *testing.T, s1, s2 uint64) {
		r := rand.New(rand.NewPCG(s1, s2))
		var allows []Allow
		for range r.IntN(8) {
			from := uint32(0x0a000000 + r.IntN(64))
			peer := AddrRange{From: addr(from), To: addr(from + uint32(r.IntN(32)))}
			ports := AllPorts
			switch r.IntN(5) {
			case 0:
			case 1:
				ports = OtherProtocols
			default:
				p := uint16(r.IntN(16))
				ports = Ports{Protocol: explicitProtocols[r.IntN(3)], From: p, To: p + uint16(r.IntN(8))}
			}
			allows = append(allows, Allow{Peer: peer, Ports: ports})
		}
		elems := disjointElements(allows)
		for i, e := range elems {
			if e.peer.From.Compare(e.peer.To) > 0 || e.protoFrom > e.protoTo || e.portFrom > e.portTo {
				t.Fatalf("element %+v is empty", e)
			}
			for _, o := range elems[i+1:] {
				if overlaps(e, o) {
					t.Fatalf("elements %+v and %+v overlap; allows %+v", e, o, allows)
				}
			}
		}
		check := func(peer uint32, proto uint8, port uint16) {
			want := false
			for _, a := range allows {
				inPeer := u32(a.Peer.From) <= peer && peer <= u32(a.Peer.To)
				explicit := slices.Contains(explicitProtocols, Protocol(proto))
				inPorts := a.Ports.IsAll() || a.Ports == OtherProtocols && !explicit ||
					a.Ports != OtherProtocols && uint8(a.Ports.Protocol) == proto && a.Ports.From <= port && port <= a.Ports.To
				want = want || inPeer && inPorts
			}
			got := false
			for _, e := range elems {
				got = got || u32(e.peer.From) <= peer && peer <= u32(e.peer.To) && e.protoFrom <= proto && proto <= e.protoTo && e.portFrom <= port && port <= e.portTo
			}
			if got != want {
				t.Fatalf("%v proto %d port %d: elements allow %v, allows %v; allows %+v, elements %+v", addr(peer), proto, port, got, want, allows, elems)
			}
		}
		for range 200 {
			check(uint32(0x0a000000+r.IntN(100)), []uint8{1, 6, 17, 132}[r.IntN(4)], uint16(r.IntN(30)))
		}
		for _, a := range allows {
			for _, peer := range []uint32{u32(a.Peer.From) - 1, u32(a.Peer.From), u32(a.Peer.To), u32(a.Peer.To) + 1} {
				for _, port := range []uint16{a.Ports.From, a.Ports.To, a.Ports.To + 1} {
					check(peer, uint8(a.Ports.Protocol), port)
				}
			}
		}
	})
}

func overlaps(a, b element) bool {
	return a.peer.From.Compare(b.peer.To) <= 0 && b.peer.From.Compare(a.peer.To) <= 0 &&
		a.protoFrom <= b.protoTo && b.protoFrom <= a.protoTo &&
		a.portFrom <= b.portTo && b.portFrom <= a.portTo
}
