package svcproxy

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/node/kubernetes/internal/nftconn"
)

// TableName is the name of our table in both the ip and ip6 families.
const TableName = "metropolis-services"

// masqueradeMark is the packet mark bit that asks postrouting to
// masquerade: the one kube-proxy uses, so the node's other rules (CNI) can
// treat it alike.
const masqueradeMark = 0x4000

// Apply replaces our tables in the network namespace conn talks to with the
// rules for ports, in one netlink batch: both families' tables are added
// (a no-op if they exist), deleted and, for a family with service ports,
// created again and filled. The kernel applies the batch atomically.
// clusterCIDRs are the pod networks: service traffic from other sources
// (the node itself, other hosts) is masqueraded, since its replies could
// otherwise bypass this node's conntrack. Nil masquerades only hairpin and
// NodePort traffic.
func Apply(conn *nftables.Conn, ports []ServicePort, clusterCIDRs []netip.Prefix) error {
	for _, f := range []family{familyIPv4, familyIPv6} {
		var mine []ServicePort
		for _, p := range ports {
			if p.ClusterIP.Is4() == (f == familyIPv4) {
				mine = append(mine, p)
			}
		}
		var cidrs []netip.Prefix
		for _, c := range clusterCIDRs {
			if c.Addr().Is4() == (f == familyIPv4) {
				cidrs = append(cidrs, c)
			}
		}
		t := &nftables.Table{Name: TableName, Family: f.table}
		conn.AddTable(t)
		conn.DelTable(t)
		if len(mine) == 0 {
			continue
		}
		conn.AddTable(t)
		if err := (&builder{conn: conn, table: t, f: f, clusterCIDRs: cidrs}).build(mine); err != nil {
			return fmt.Errorf("building %s table: %w", familyName(f), err)
		}
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("applying nftables batch: %w", err)
	}
	return nil
}

func familyName(f family) string {
	if f == familyIPv4 {
		return "ip " + TableName
	}
	return "ip6 " + TableName
}

// builder adds one family's table contents to a batch.
type builder struct {
	conn         *nftables.Conn
	table        *nftables.Table
	f            family
	clusterCIDRs []netip.Prefix
}

func (b *builder) chain(name string) *nftables.Chain {
	return b.conn.AddChain(&nftables.Chain{Name: name, Table: b.table})
}

func (b *builder) baseChain(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
	return b.conn.AddChain(&nftables.Chain{Name: name, Table: b.table, Type: typ, Hooknum: hook, Priority: prio})
}

func (b *builder) rule(c *nftables.Chain, exprs ...[]expr.Any) {
	var all []expr.Any
	for _, e := range exprs {
		all = append(all, e...)
	}
	b.conn.AddRule(&nftables.Rule{Table: b.table, Chain: c, Exprs: all})
}

func (b *builder) build(ports []ServicePort) error {
	services := &nftables.Set{Table: b.table, Name: "services", IsMap: true, Concatenation: true,
		KeyType: b.f.serviceKeyType(), DataType: nftables.TypeVerdict}
	noEndpoints := &nftables.Set{Table: b.table, Name: "no-endpoints", Concatenation: true,
		KeyType: b.f.serviceKeyType()}
	nodePorts := &nftables.Set{Table: b.table, Name: "nodeports", IsMap: true, Concatenation: true,
		KeyType: nodePortKeyType, DataType: nftables.TypeVerdict}
	noEndpointNodePorts := &nftables.Set{Table: b.table, Name: "no-endpoint-nodeports", Concatenation: true,
		KeyType: nodePortKeyType}

	var serviceElems, noEndpointElems, nodePortElems, noEndpointNodePortElems []nftables.SetElement
	for i, p := range ports {
		key := b.f.serviceKey(p.ClusterIP, p.Protocol, p.Port)
		if len(p.Endpoints) == 0 {
			noEndpointElems = append(noEndpointElems, nftables.SetElement{Key: key})
			if p.NodePort != 0 {
				noEndpointNodePortElems = append(noEndpointNodePortElems, nftables.SetElement{Key: nodePortKey(p.Protocol, p.NodePort)})
			}
			continue
		}
		svcChain, err := b.serviceChains(i, p)
		if err != nil {
			return err
		}
		serviceElems = append(serviceElems, nftables.SetElement{Key: key, VerdictData: verdict(expr.VerdictGoto, svcChain)})
		if p.NodePort != 0 {
			npChain := b.chain("nodeport-" + strconv.Itoa(i))
			b.rule(npChain, setMasqueradeMark(), []expr.Any{verdict(expr.VerdictGoto, svcChain)})
			nodePortElems = append(nodePortElems, nftables.SetElement{Key: nodePortKey(p.Protocol, p.NodePort), VerdictData: verdict(expr.VerdictGoto, npChain.Name)})
		}
	}
	for _, s := range []struct {
		set   *nftables.Set
		elems []nftables.SetElement
	}{{services, serviceElems}, {noEndpoints, noEndpointElems}, {nodePorts, nodePortElems}, {noEndpointNodePorts, noEndpointNodePortElems}} {
		if err := nftconn.AddSet(b.conn, s.set, s.elems); err != nil {
			return fmt.Errorf("adding set %s: %w", s.set.Name, err)
		}
	}

	dispatch := b.chain("dispatch")
	b.rule(dispatch, b.f.loadServiceKey(), []expr.Any{
		&expr.Lookup{SourceRegister: unix.NFT_REG_1, SetName: services.Name, SetID: services.ID, DestRegister: unix.NFT_REG_VERDICT, IsDestRegSet: true},
	})
	if len(nodePortElems) > 0 {
		b.rule(dispatch, daddrIsLocal(), loadNodePortKey(), []expr.Any{
			&expr.Lookup{SourceRegister: unix.NFT_REG_1, SetName: nodePorts.Name, SetID: nodePorts.ID, DestRegister: unix.NFT_REG_VERDICT, IsDestRegSet: true},
		})
	}
	jumpDispatch := []expr.Any{verdict(expr.VerdictJump, dispatch.Name)}
	b.rule(b.baseChain("nat-prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest), jumpDispatch)
	b.rule(b.baseChain("nat-output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest), jumpDispatch)
	b.rule(b.baseChain("nat-postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource),
		hasMasqueradeMark(), []expr.Any{&expr.Masq{}})

	// Rejects happen in filter hooks (reject is not allowed in nat
	// chains); by then traffic to a service with endpoints has a new
	// destination, so only the no-endpoint ones still match.
	filterPrio := nftables.ChainPriorityRef(*nftables.ChainPriorityFilter - 1)
	for _, hook := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"filter-input", nftables.ChainHookInput}, {"filter-forward", nftables.ChainHookForward}, {"filter-output", nftables.ChainHookOutput}} {
		c := b.baseChain(hook.name, nftables.ChainTypeFilter, hook.hook, filterPrio)
		if len(noEndpointElems) > 0 {
			b.rejectRules(c, b.f.loadServiceKey(), noEndpoints, b.f.addrLen/4+unix.NFT_REG32_00)
		}
		if len(noEndpointNodePortElems) > 0 && hook.name == "filter-input" {
			b.rejectRules(c, loadNodePortKey(), noEndpointNodePorts, unix.NFT_REG_1)
		}
	}
	return nil
}

// rejectRules rejects packets whose key (loaded by load) is in set: TCP
// with a reset, the rest with ICMP port unreachable. protoReg is where load
// left the l4proto.
func (b *builder) rejectRules(c *nftables.Chain, load []expr.Any, set *nftables.Set, protoReg uint32) {
	lookup := &expr.Lookup{SourceRegister: unix.NFT_REG_1, SetName: set.Name, SetID: set.ID}
	b.rule(c, load, []expr.Any{lookup,
		&expr.Cmp{Op: expr.CmpOpEq, Register: protoReg, Data: []byte{byte(ProtocolTCP)}},
		&expr.Reject{Type: unix.NFT_REJECT_TCP_RST},
	})
	b.rule(c, load, []expr.Any{lookup, &expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: b.f.portUnreac}})
}
