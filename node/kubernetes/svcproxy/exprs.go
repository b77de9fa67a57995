package svcproxy

import (
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// family is what differs between the ip and ip6 tables.
type family struct {
	table      nftables.TableFamily
	nfproto    uint32
	addrLen    uint32
	saddrAt    uint32 // offset of the source address in the network header
	daddrAt    uint32
	addrType   nftables.SetDatatype
	portUnreac uint8 // ICMP (v4) or ICMPv6 code for port unreachable
}

var (
	familyIPv4 = family{
		table: nftables.TableFamilyIPv4, nfproto: unix.NFPROTO_IPV4,
		addrLen: 4, saddrAt: 12, daddrAt: 16, addrType: nftables.TypeIPAddr, portUnreac: 3,
	}
	familyIPv6 = family{
		table: nftables.TableFamilyIPv6, nfproto: unix.NFPROTO_IPV6,
		addrLen: 16, saddrAt: 8, daddrAt: 24, addrType: nftables.TypeIP6Addr, portUnreac: 4,
	}
)

// serviceKeyType is the key of the services map and no-endpoints set:
// daddr . l4proto . dport, each padded to 32-bit registers.
func (f family) serviceKeyType() nftables.SetDatatype {
	return nftables.MustConcatSetType(f.addrType, nftables.TypeInetProto, nftables.TypeInetService)
}

// nodePortKeyType is the key of the nodeports map: l4proto . dport.
var nodePortKeyType = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)

// serviceKey encodes a map key as loadServiceKey leaves it in the
// registers.
func (f family) serviceKey(addr netip.Addr, proto Protocol, port uint16) []byte {
	b := append([]byte(nil), addr.AsSlice()...)
	b = append(b, byte(proto), 0, 0, 0)
	return append(b, byte(port>>8), byte(port), 0, 0)
}

func nodePortKey(proto Protocol, port uint16) []byte {
	return []byte{byte(proto), 0, 0, 0, byte(port >> 8), byte(port), 0, 0}
}

// loadServiceKey loads daddr . l4proto . dport into consecutive registers
// starting at register 1, as nft does for a concatenation.
func (f family) loadServiceKey() []expr.Any {
	next := unix.NFT_REG32_00 + f.addrLen/4
	return []expr.Any{
		&expr.Payload{DestRegister: unix.NFT_REG_1, Base: expr.PayloadBaseNetworkHeader, Offset: f.daddrAt, Len: f.addrLen},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: next},
		&expr.Payload{DestRegister: next + 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
}

func loadNodePortKey() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: unix.NFT_REG_1},
		&expr.Payload{DestRegister: unix.NFT_REG32_01, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
}

// daddrIsLocal matches "fib daddr type local".
func daddrIsLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: unix.NFT_REG_1, ResultADDRTYPE: true, FlagDADDR: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

// saddrIs matches the source address against addr.
func (f family) saddrIs(addr netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: unix.NFT_REG_1, Base: expr.PayloadBaseNetworkHeader, Offset: f.saddrAt, Len: f.addrLen},
		&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: addr.AsSlice()},
	}
}

// saddrNotIn matches a source address outside prefix.
func (f family) saddrNotIn(prefix netip.Prefix) []expr.Any {
	mask := make([]byte, f.addrLen)
	for i := 0; i < prefix.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Payload{DestRegister: unix.NFT_REG_1, Base: expr.PayloadBaseNetworkHeader, Offset: f.saddrAt, Len: f.addrLen},
		&expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: f.addrLen, Mask: mask, Xor: make([]byte, f.addrLen)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: unix.NFT_REG_1, Data: prefix.Masked().Addr().AsSlice()},
	}
}

// setMasqueradeMark is "meta mark set meta mark | masqueradeMark".
func setMasqueradeMark() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: unix.NFT_REG_1},
		&expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^uint32(masqueradeMark)),
			Xor:  binaryutil.NativeEndian.PutUint32(masqueradeMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: unix.NFT_REG_1},
	}
}

// hasMasqueradeMark matches "meta mark & masqueradeMark != 0".
func hasMasqueradeMark() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: unix.NFT_REG_1},
		&expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(masqueradeMark),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: unix.NFT_REG_1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// dnatTo is "dnat to ep.Addr:ep.Port".
func (f family) dnatTo(ep Endpoint) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: unix.NFT_REG_1, Data: ep.Addr.AsSlice()},
		&expr.Immediate{Register: unix.NFT_REG_2, Data: binaryutil.BigEndian.PutUint16(ep.Port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: f.nfproto, RegAddrMin: unix.NFT_REG_1, RegProtoMin: unix.NFT_REG_2, Specified: true},
	}
}

func verdict(kind expr.VerdictKind, chain string) *expr.Verdict {
	return &expr.Verdict{Kind: kind, Chain: chain}
}
