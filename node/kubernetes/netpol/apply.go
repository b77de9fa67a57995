package netpol

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/node/kubernetes/internal/nftconn"
)

// TableName is the name of our table in the ip family.
const TableName = "metropolis-netpol"

// generationMask is the part of a connection's ct mark that holds the
// generation of the rules that last let it through. The lower half stays
// free for anyone else.
const generationMask = 0xffff0000

// Apply replaces our table in the network namespace conn talks to with rules
// enforcing rules, in one netlink batch the kernel applies atomically.
// generation (non-zero) tells connections judged under these rules from
// older ones: pass a different one each time, so that established
// connections are judged again.
func Apply(conn *nftables.Conn, rules []Rules, generation uint16) error {
	if generation == 0 {
		return fmt.Errorf("netpol: generation 0 is reserved for unjudged connections")
	}
	t := &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}
	conn.AddTable(t)
	conn.DelTable(t)
	conn.AddTable(t)
	if err := (&builder{conn: conn, table: t}).build(rules, uint32(generation)<<16); err != nil {
		return fmt.Errorf("building ip %s: %w", TableName, err)
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("applying nftables batch: %w", err)
	}
	return nil
}

// builder adds the table's contents to a batch.
type builder struct {
	conn  *nftables.Conn
	table *nftables.Table
}

// allowKeyType is pod address . peer address . l4proto . port, with ranges in
// every field but the first.
var allowKeyType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)

func (b *builder) build(rules []Rules, mark uint32) error {
	sets := map[string]*nftables.Set{}
	elems := map[string][]nftables.SetElement{}
	for _, dir := range []string{"ingress", "egress"} {
		sets[dir+"-isolated"] = &nftables.Set{Table: b.table, Name: dir + "-isolated", KeyType: nftables.TypeIPAddr}
		sets[dir+"-allow"] = &nftables.Set{Table: b.table, Name: dir + "-allow", KeyType: allowKeyType, Concatenation: true, Interval: true}
	}
	for _, r := range rules {
		for _, d := range []struct {
			dir      string
			isolated bool
			allows   []Allow
		}{{"ingress", r.IngressIsolated, r.Ingress}, {"egress", r.EgressIsolated, r.Egress}} {
			if !d.isolated {
				continue
			}
			elems[d.dir+"-isolated"] = append(elems[d.dir+"-isolated"], nftables.SetElement{Key: r.IP.AsSlice()})
			for _, e := range disjointElements(d.allows) {
				elems[d.dir+"-allow"] = append(elems[d.dir+"-allow"], setElement(r, e))
			}
		}
	}
	for _, name := range []string{"ingress-isolated", "ingress-allow", "egress-isolated", "egress-allow"} {
		if err := nftconn.AddSet(b.conn, sets[name], elems[name]); err != nil {
			return fmt.Errorf("adding set %s: %w", name, err)
		}
	}

	// ingress-check: daddr is an isolated pod; saddr is the peer.
	// egress-check: saddr is an isolated pod; daddr is the peer.
	checks := map[string]*nftables.Chain{}
	for _, c := range []struct {
		dir       string
		pod, peer uint32 // offsets of the addresses in the IPv4 header
	}{{"ingress", 16, 12}, {"egress", 12, 16}} {
		chain := b.conn.AddChain(&nftables.Chain{Name: c.dir + "-check", Table: b.table})
		isolated, allow := sets[c.dir+"-isolated"], sets[c.dir+"-allow"]
		b.rule(chain,
			loadAddr(unix.NFT_REG_1, c.pod),
			[]expr.Any{&expr.Lookup{SourceRegister: unix.NFT_REG_1, SetName: isolated.Name, SetID: isolated.ID, Invert: true}},
			[]expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}})
		b.rule(chain,
			loadAddr(unix.NFT_REG_1, c.pod), loadAddr(unix.NFT_REG32_01, c.peer),
			[]expr.Any{
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: unix.NFT_REG32_02},
				&expr.Payload{DestRegister: unix.NFT_REG32_03, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
				&expr.Lookup{SourceRegister: unix.NFT_REG_1, SetName: allow.Name, SetID: allow.ID},
				&expr.Verdict{Kind: expr.VerdictReturn},
			})
		// Whatever did not return is refused: TCP with a reset, the rest
		// with "administratively prohibited". A packet whose ports cannot
		// be read lands here too.
		b.rule(chain, l4protoIs(ProtocolTCP), []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}})
		b.rule(chain, []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: icmpAdminProhibited}})
		checks[c.dir] = chain
	}

	prio := nftables.ChainPriorityRef(*nftables.ChainPriorityFilter - 5)
	for _, hook := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"forward", nftables.ChainHookForward}, {"input", nftables.ChainHookInput}} {
		c := b.conn.AddChain(&nftables.Chain{Name: hook.name, Table: b.table, Type: nftables.ChainTypeFilter, Hooknum: hook.hook, Priority: prio})
		b.rule(c, ctStateHas(ctStateRelated), accept())
		b.rule(c, ctReply(), ctStateHas(ctStateEstablished), accept())
		b.rule(c, ctStateHas(ctStateEstablished), ctMarkGenerationIs(mark), accept())
		b.rule(c, []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: checks["ingress"].Name}})
		b.rule(c, []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: checks["egress"].Name}})
		b.rule(c, ctMarkSetGeneration(mark))
	}
	return nil
}

// setElement is e as a set element of pod r: its address, then the ranges of peers,
// protocols and ports.
func setElement(r Rules, e element) nftables.SetElement {
	key := func(peer []byte, proto byte, port uint16) []byte {
		k := append(r.IP.AsSlice(), peer...)
		k = append(k, proto, 0, 0, 0)
		return append(k, byte(port>>8), byte(port), 0, 0)
	}
	return nftables.SetElement{
		Key:    key(e.peer.From.AsSlice(), e.protoFrom, e.portFrom),
		KeyEnd: key(e.peer.To.AsSlice(), e.protoTo, e.portTo),
	}
}

func (b *builder) rule(c *nftables.Chain, exprs ...[]expr.Any) {
	var all []expr.Any
	for _, e := range exprs {
		all = append(all, e...)
	}
	b.conn.AddRule(&nftables.Rule{Table: b.table, Chain: c, Exprs: all})
}

// icmpAdminProhibited is ICMP destination unreachable's code 13,
// "communication administratively prohibited" (RFC 1812).
const icmpAdminProhibited = 13

// ctDirReply is the kernel's IP_CT_DIR_REPLY, as ct direction reports it.
const ctDirReply = 1

// Conntrack state bits, as the kernel's ct state expression reports them.
const (
	ctStateEstablished = 1 << 1
	ctStateRelated     = 1 << 2
)

func loadAddr(reg, offset uint32) []expr.Any {
	return []expr.Any{&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4}}
}

func l4protoIs(p Protocol) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: unix.NFT_REG_1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{byte(p)}},
	}
}

func accept() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}} }

// ctStateHas matches "ct state & bits != 0".
func ctStateHas(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: unix.NFT_REG_1},
		&expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: unix.NFT_REG_1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// ctReply matches packets in a connection's reply direction.
func ctReply() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeyDIRECTION, Register: unix.NFT_REG_1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{ctDirReply}},
	}
}

// ctMarkGenerationIs matches "ct mark & generationMask == mark".
func ctMarkGenerationIs(mark uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeyMARK, Register: unix.NFT_REG_1},
		&expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(generationMask), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: binaryutil.NativeEndian.PutUint32(mark)},
	}
}

// ctMarkSetGeneration is "ct mark set ct mark & ^generationMask | mark".
func ctMarkSetGeneration(mark uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeyMARK, Register: unix.NFT_REG_1},
		&expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^uint32(generationMask)), Xor: binaryutil.NativeEndian.PutUint32(mark)},
		&expr.Ct{Key: expr.CtKeyMARK, Register: unix.NFT_REG_1, SourceRegister: true},
	}
}

// OpenConn opens the lasting netlink connection Apply needs, in the network namespace netNS (a
// file descriptor; 0 for the node program's own), with buffers for a whole table in one batch.
// Close it with CloseLasting.
func OpenConn(netNS int) (*nftables.Conn, error) { return nftconn.Open(netNS) }
