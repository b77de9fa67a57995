package pcapfilter

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/net/bpf"
)

// Offsets into an Ethernet frame (no VLAN tag: AF_PACKET hands tagged frames over untagged).
const (
	offEtherType  = 12
	offIPv4       = 14
	offIPv4Proto  = offIPv4 + 9
	offIPv4Frag   = offIPv4 + 6
	offIPv4Src    = offIPv4 + 12
	offIPv4Dst    = offIPv4 + 16
	offIPv6       = 14
	offIPv6Next   = offIPv6 + 6
	offIPv6Src    = offIPv6 + 8
	offIPv6Dst    = offIPv6 + 24
	offIPv6Ports  = offIPv6 + 40
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
	etherTypeARP  = 0x0806
)

var ipProtocols = map[string]uint32{"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmp6": 58}

// snapLength is what the program accepts of a matching packet: all of it.
const snapLength = 262144

// maxInstructions is the kernel's limit on a classic BPF program (BPF_MAXINSNS).
const maxInstructions = 4096

// Compile turns a filter into a classic BPF program for Ethernet frames, ready for
// SO_ATTACH_FILTER; an error names what is wrong and where.
func Compile(filter string) ([]bpf.RawInstruction, error) {
	prog, err := compile(filter)
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("filter: assemble: %w", err)
	}
	return raw, nil
}

func compile(filter string) ([]bpf.Instruction, error) {
	n, err := parse(filter)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	var a assembler
	accept, reject := a.newLabel(), a.newLabel()
	a.gen(n, accept, reject)
	a.place(accept)
	a.emit(bpf.RetConstant{Val: snapLength})
	a.place(reject)
	a.emit(bpf.RetConstant{Val: 0})
	prog, err := a.resolve()
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	return prog, nil
}

// label is a place in the program that jumps go to, placed later.
type label int

// op is an instruction, or a conditional jump to labels whose skips are resolved at the end.
type op struct {
	insn bpf.Instruction
	// cond, if set, jumps to onTrue or onFalse; always, if set, jumps to to.
	cond            *bpf.JumpIf
	onTrue, onFalse label
	always          bool
	to              label
}

type assembler struct {
	ops    []op
	labels []int // label → position, -1 until placed
}

func (a *assembler) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

func (a *assembler) place(l label) { a.labels[l] = len(a.ops) }

func (a *assembler) emit(i bpf.Instruction) { a.ops = append(a.ops, op{insn: i}) }

// jump compares A with val and goes on at t if the condition holds, at f otherwise.
func (a *assembler) jump(cond bpf.JumpTest, val uint32, t, f label) {
	a.ops = append(a.ops, op{cond: &bpf.JumpIf{Cond: cond, Val: val}, onTrue: t, onFalse: f})
}

// goTo jumps to l unconditionally.
func (a *assembler) goTo(l label) { a.ops = append(a.ops, op{always: true, to: l}) }

// resolve turns labels into skips; conditional jumps reach at most 255 instructions ahead.
func (a *assembler) resolve() ([]bpf.Instruction, error) {
	if len(a.ops) > maxInstructions {
		return nil, fmt.Errorf("compiles to %d instructions, more than the kernel's %d", len(a.ops), maxInstructions)
	}
	prog := make([]bpf.Instruction, len(a.ops))
	for i, o := range a.ops {
		switch {
		case o.cond != nil:
			t, f := a.labels[o.onTrue]-i-1, a.labels[o.onFalse]-i-1
			if t < 0 || f < 0 || t > 255 || f > 255 {
				return nil, fmt.Errorf("too complex: a jump spans more than 255 instructions")
			}
			prog[i] = bpf.JumpIf{Cond: o.cond.Cond, Val: o.cond.Val, SkipTrue: uint8(t), SkipFalse: uint8(f)}
		case o.always:
			prog[i] = bpf.Jump{Skip: uint32(a.labels[o.to] - i - 1)}
		default:
			prog[i] = o.insn
		}
	}
	return prog, nil
}

// gen emits code that goes on at t when the packet matches n, at f when it does not.
func (a *assembler) gen(n node, t, f label) {
	switch n := n.(type) {
	case and:
		mid := a.newLabel()
		a.gen(n.a, mid, f)
		a.place(mid)
		a.gen(n.b, t, f)
	case or:
		mid := a.newLabel()
		a.gen(n.a, t, mid)
		a.place(mid)
		a.gen(n.b, t, f)
	case not:
		a.gen(n.a, f, t)
	case proto:
		a.genProto(n.name, t, f)
	case host:
		a.genHost(n, t, f)
	case network:
		a.genNetwork(n, t, f)
	case ports:
		a.genPorts(n, t, f)
	default:
		panic(fmt.Sprintf("pcapfilter: unknown node %T", n))
	}
}

// etherType goes on at t if the frame carries etherType, at f otherwise.
func (a *assembler) etherType(v uint32, t, f label) {
	a.emit(bpf.LoadAbsolute{Off: offEtherType, Size: 2})
	a.jump(bpf.JumpEqual, v, t, f)
}

// byteAt goes on at t if the byte at off is v.
func (a *assembler) byteAt(off, v uint32, t, f label) {
	a.emit(bpf.LoadAbsolute{Off: off, Size: 1})
	a.jump(bpf.JumpEqual, v, t, f)
}

// ipv4Proto and ipv6Next match a transport on IPv4 or IPv6.
func (a *assembler) ipv4Proto(p uint32, t, f label) {
	mid := a.newLabel()
	a.etherType(etherTypeIPv4, mid, f)
	a.place(mid)
	a.byteAt(offIPv4Proto, p, t, f)
}

func (a *assembler) ipv6Next(p uint32, t, f label) {
	mid := a.newLabel()
	a.etherType(etherTypeIPv6, mid, f)
	a.place(mid)
	a.byteAt(offIPv6Next, p, t, f)
}

func (a *assembler) genProto(name string, t, f label) {
	switch name {
	case "ip":
		a.etherType(etherTypeIPv4, t, f)
	case "ip6":
		a.etherType(etherTypeIPv6, t, f)
	case "arp":
		a.etherType(etherTypeARP, t, f)
	case "icmp":
		a.ipv4Proto(ipProtocols["icmp"], t, f)
	case "icmp6":
		a.ipv6Next(ipProtocols["icmp6"], t, f)
	default: // tcp, udp, sctp: on either IP version
		v6 := a.newLabel()
		a.ipv4Proto(ipProtocols[name], t, v6)
		a.place(v6)
		a.ipv6Next(ipProtocols[name], t, f)
	}
}

// ends calls match for the source, the destination, or either, as dir says.
func (a *assembler) ends(dir direction, t, f label, match func(src bool, t, f label)) {
	switch dir {
	case source:
		match(true, t, f)
	case destination:
		match(false, t, f)
	default:
		other := a.newLabel()
		match(true, t, other)
		a.place(other)
		match(false, t, f)
	}
}

func (a *assembler) genHost(h host, t, f label) {
	a.genNetwork(network{h.dir, netip.PrefixFrom(h.addr, h.addr.BitLen())}, t, f)
}

func (a *assembler) genNetwork(n network, t, f label) {
	addr := n.prefix.Addr()
	if addr.Is4() {
		mid := a.newLabel()
		a.etherType(etherTypeIPv4, mid, f)
		a.place(mid)
		a.ends(n.dir, t, f, func(src bool, t, f label) {
			off := uint32(offIPv4Dst)
			if src {
				off = offIPv4Src
			}
			a.maskedWords(off, addr.AsSlice(), n.prefix.Bits(), t, f)
		})
		return
	}
	mid := a.newLabel()
	a.etherType(etherTypeIPv6, mid, f)
	a.place(mid)
	a.ends(n.dir, t, f, func(src bool, t, f label) {
		off := uint32(offIPv6Dst)
		if src {
			off = offIPv6Src
		}
		a.maskedWords(off, addr.AsSlice(), n.prefix.Bits(), t, f)
	})
}

// maskedWords compares the first bits of the address at off with want, a word at a time.
func (a *assembler) maskedWords(off uint32, want []byte, bits int, t, f label) {
	for w := 0; w*32 < bits; w++ {
		mask := ^uint32(0)
		if left := bits - w*32; left < 32 {
			mask = ^uint32(0) << (32 - left)
		}
		a.emit(bpf.LoadAbsolute{Off: off + uint32(4*w), Size: 4})
		if mask != ^uint32(0) {
			a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
		}
		next := t
		if (w+1)*32 < bits {
			next = a.newLabel()
		}
		a.jump(bpf.JumpEqual, binary.BigEndian.Uint32(want[4*w:])&mask, next, f)
		if next != t {
			a.place(next)
		}
	}
	if bits == 0 {
		a.goTo(t)
	}
}

func (a *assembler) genPorts(p ports, t, f label) {
	v6 := a.newLabel()
	// IPv4: one of the transports, not a fragment past the first, port at the header's end.
	v4Transport := a.newLabel()
	a.etherType(etherTypeIPv4, v4Transport, v6)
	a.place(v4Transport)
	unfragmented := a.newLabel()
	a.transportIn(offIPv4Proto, p.transports, unfragmented, f)
	a.place(unfragmented)
	a.emit(bpf.LoadAbsolute{Off: offIPv4Frag, Size: 2})
	v4Ports := a.newLabel()
	a.jump(bpf.JumpBitsSet, 0x1fff, f, v4Ports)
	a.place(v4Ports)
	a.emit(bpf.LoadMemShift{Off: offIPv4})
	a.ends(p.dir, t, f, func(src bool, t, f label) {
		off := uint32(offIPv4 + 2)
		if src {
			off = offIPv4
		}
		a.emit(bpf.LoadIndirect{Off: off, Size: 2})
		a.inRange(p.lo, p.hi, t, f)
	})
	// IPv6: the next header is the transport itself.
	a.place(v6)
	v6Transport := a.newLabel()
	a.etherType(etherTypeIPv6, v6Transport, f)
	a.place(v6Transport)
	v6Ports := a.newLabel()
	a.transportIn(offIPv6Next, p.transports, v6Ports, f)
	a.place(v6Ports)
	a.ends(p.dir, t, f, func(src bool, t, f label) {
		off := uint32(offIPv6Ports + 2)
		if src {
			off = offIPv6Ports
		}
		a.emit(bpf.LoadAbsolute{Off: off, Size: 2})
		a.inRange(p.lo, p.hi, t, f)
	})
}

// transportIn goes on at t if the byte at off names one of transports.
func (a *assembler) transportIn(off uint32, transports []string, t, f label) {
	a.emit(bpf.LoadAbsolute{Off: off, Size: 1})
	for i, name := range transports {
		next := f
		if i < len(transports)-1 {
			next = a.newLabel()
		}
		a.jump(bpf.JumpEqual, ipProtocols[name], t, next)
		if next != f {
			a.place(next)
		}
	}
}

// inRange goes on at t if A is within [lo, hi].
func (a *assembler) inRange(lo, hi uint16, t, f label) {
	if lo == hi {
		a.jump(bpf.JumpEqual, uint32(lo), t, f)
		return
	}
	mid := a.newLabel()
	a.jump(bpf.JumpGreaterOrEqual, uint32(lo), mid, f)
	a.place(mid)
	a.jump(bpf.JumpGreaterThan, uint32(hi), f, t)
}
