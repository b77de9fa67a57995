package nodemgmt

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
)

// GetNetwork reads the node's interfaces, routes and sockets over netlink and counts its
// nftables tables' contents.
func (s *Server) GetNetwork(_ context.Context, _ *apb.GetNetworkRequest) (*apb.GetNetworkResponse, error) {
	res := &apb.GetNetworkResponse{}
	links, err := netlink.LinkList()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "list interfaces: %v", err)
	}
	names := make(map[int]string, len(links))
	masters := make([]int, 0, len(links))
	for _, l := range links {
		a := l.Attrs()
		names[a.Index] = a.Name
		iface := &apb.NetworkInterface{
			Name: a.Name, Index: int32(a.Index), Type: l.Type(), HardwareAddress: a.HardwareAddr.String(),
			Mtu: int32(a.MTU), Up: a.Flags&net.FlagUp != 0, Carrier: a.RawFlags&unix.IFF_LOWER_UP != 0,
			BondState: bondState(a.Slave),
		}
		if len(a.PermHWAddr) > 0 && a.PermHWAddr.String() != iface.HardwareAddress {
			iface.PermanentHardwareAddress = a.PermHWAddr.String()
		}
		masters = append(masters, a.MasterIndex)
		if st := a.Statistics; st != nil {
			iface.ReceiveBytes, iface.TransmitBytes = st.RxBytes, st.TxBytes
			iface.ReceivePackets, iface.TransmitPackets = st.RxPackets, st.TxPackets
			iface.ReceiveErrors, iface.TransmitErrors = st.RxErrors, st.TxErrors
			iface.ReceiveDropped, iface.TransmitDropped = st.RxDropped, st.TxDropped
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "addresses of %s: %v", a.Name, err)
		}
		for _, ad := range addrs {
			iface.Addresses = append(iface.Addresses, ad.IPNet.String())
		}
		res.Interfaces = append(res.Interfaces, iface)
	}
	for i, m := range masters {
		if m != 0 {
			res.Interfaces[i].Master = names[m]
		}
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "list routes: %v", err)
	}
	for _, r := range routes {
		res.Routes = append(res.Routes, routeOf(r, names))
	}
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		tcp, err := netlink.SocketDiagTCP(family)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "list TCP sockets through sock_diag (the kernel needs tcp_diag): %v", err)
		}
		for _, sk := range tcp {
			res.Sockets = append(res.Sockets, socketOf("tcp", sk))
		}
		udp, err := netlink.SocketDiagUDP(family)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "list UDP sockets through sock_diag (the kernel needs udp_diag): %v", err)
		}
		for _, sk := range udp {
			res.Sockets = append(res.Sockets, socketOf("udp", sk))
		}
	}
	if res.Nftables, err = nftablesCounts(); err != nil {
		return nil, status.Errorf(codes.Internal, "count nftables contents: %v", err)
	}
	return res, nil
}

// routeOf describes r, naming its interface by names (index to name).
func routeOf(r netlink.Route, names map[int]string) *apb.Route {
	out := &apb.Route{Destination: "default", Interface: names[r.LinkIndex], Table: int32(r.Table), Metric: int32(r.Priority)}
	if r.Dst != nil {
		out.Destination = r.Dst.String()
	}
	if r.Gw != nil {
		out.Gateway = r.Gw.String()
	}
	if r.Src != nil {
		out.Source = r.Src.String()
	}
	return out
}

// tcpStates names the kernel's TCP states (include/net/tcp_states.h), by number.
var tcpStates = []string{1: "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}

// socketOf describes a socket of protocol ("tcp" or "udp") as ss does.
func socketOf(protocol string, sk *netlink.Socket) *apb.Socket {
	state := fmt.Sprintf("state %d", sk.State)
	switch {
	case protocol == "udp" && sk.State == netlink.TCP_ESTABLISHED:
		state = "ESTABLISHED"
	case protocol == "udp":
		state = "UNCONN"
	case int(sk.State) < len(tcpStates) && tcpStates[sk.State] != "":
		state = tcpStates[sk.State]
	}
	return &apb.Socket{
		Protocol: protocol,
		Local:    net.JoinHostPort(sk.ID.Source.String(), strconv.Itoa(int(sk.ID.SourcePort))),
		Remote:   net.JoinHostPort(sk.ID.Destination.String(), strconv.Itoa(int(sk.ID.DestinationPort))),
		State:    state, Uid: sk.UID, ReceiveQueue: uint64(sk.RQueue), SendQueue: uint64(sk.WQueue),
	}
}

// nftablesCounts counts the chains, rules and sets of every nftables table.
func nftablesCounts() ([]*apb.NftablesTable, error) {
	conn, err := nftables.New()
	if err != nil {
		return nil, err
	}
	tables, err := conn.ListTables()
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	chains, err := conn.ListChains()
	if err != nil {
		return nil, fmt.Errorf("list chains: %w", err)
	}
	var out []*apb.NftablesTable
	for _, t := range tables {
		nt := &apb.NftablesTable{Family: familyName(t.Family), Name: t.Name}
		for _, c := range chains {
			if c.Table.Name != t.Name || c.Table.Family != t.Family {
				continue
			}
			nt.Chains++
			rules, err := conn.GetRules(t, c)
			if err != nil {
				return nil, fmt.Errorf("rules of %s %s/%s: %w", nt.Family, t.Name, c.Name, err)
			}
			nt.Rules += int32(len(rules))
		}
		sets, err := conn.GetSets(t)
		if err != nil {
			return nil, fmt.Errorf("sets of %s %s: %w", nt.Family, t.Name, err)
		}
		nt.Sets = int32(len(sets))
		out = append(out, nt)
	}
	return out, nil
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyNetdev:
		return "netdev"
	case nftables.TableFamilyBridge:
		return "bridge"
	}
	return fmt.Sprintf("family %d", f)
}

// bondState is what a bond member's membership says of it: whether it carries the bond's
// traffic, and whether the bond sees its link fail; "" for a link in no bond.
func bondState(s netlink.LinkSlave) string {
	b, ok := s.(*netlink.BondSlave)
	if !ok {
		return ""
	}
	if b.MiiStatus != netlink.BondLinkUp {
		return "link down"
	}
	switch b.State {
	case netlink.BondStateActive:
		return "active"
	case netlink.BondStateBackup:
		return "backup"
	}
	return fmt.Sprintf("state %d", b.State)
}
