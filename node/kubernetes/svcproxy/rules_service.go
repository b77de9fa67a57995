package svcproxy

import (
	"fmt"
	"strconv"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/node/kubernetes/internal/nftconn"
)

// serviceChains adds the chains of service port number i (which has
// endpoints) and returns the name of its entry chain:
//
//	service-i:    [saddr outside the cluster CIDRs: mark], pick endpoint
//	endpoint-i-k: [saddr is this endpoint (hairpin): mark], dnat to it
func (b *builder) serviceChains(i int, p ServicePort) (string, error) {
	prefix := strconv.Itoa(i)
	svc := b.chain("service-" + prefix)
	if len(b.clusterCIDRs) > 0 {
		// "Outside all of them" is one rule with every CIDR's test in
		// turn; a rule per CIDR would mark other CIDRs' pods.
		var outside []expr.Any
		for _, c := range b.clusterCIDRs {
			outside = append(outside, b.f.saddrNotIn(c)...)
		}
		b.rule(svc, outside, setMasqueradeMark())
	}

	endpointChains := make([]string, len(p.Endpoints))
	for k, ep := range p.Endpoints {
		c := b.chain("endpoint-" + prefix + "-" + strconv.Itoa(k))
		b.rule(c, b.f.saddrIs(ep.Addr), setMasqueradeMark())
		b.rule(c, b.f.dnatTo(ep))
		endpointChains[k] = c.Name
	}

	if len(endpointChains) == 1 {
		b.rule(svc, []expr.Any{verdict(expr.VerdictGoto, endpointChains[0])})
		return svc.Name, nil
	}
	// A named map rather than an anonymous one: the library cannot add
	// an anonymous set's elements in more than one message, and a message
	// must stay under 64 KiB. numgen leaves a host-endian u32, so the keys
	// are host-endian too.
	pick := &nftables.Set{Table: b.table, Name: "endpoints-" + prefix, IsMap: true,
		KeyType: nftables.TypeInteger, DataType: nftables.TypeVerdict, KeyByteOrder: binaryutil.NativeEndian}
	elems := make([]nftables.SetElement, len(endpointChains))
	for k, name := range endpointChains {
		elems[k] = nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(k)), VerdictData: verdict(expr.VerdictGoto, name)}
	}
	if err := nftconn.AddSet(b.conn, pick, elems); err != nil {
		return "", fmt.Errorf("adding endpoint map of %s: %w", p.Name, err)
	}
	b.rule(svc, []expr.Any{
		&expr.Numgen{Register: unix.NFT_REG_1, Type: unix.NFT_NG_RANDOM, Modulus: uint32(len(endpointChains))},
		&expr.Lookup{SourceRegister: unix.NFT_REG_1, SetName: pick.Name, SetID: pick.ID, DestRegister: unix.NFT_REG_VERDICT, IsDestRegSet: true},
	})
	return svc.Name, nil
}
