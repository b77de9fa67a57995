package netconfig

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/vishvananda/netlink"

	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// testLeaseSeconds is short so that the test sees a renewal (at half of it) quickly.
const testLeaseSeconds = 4

// ackedRequests is how many REQUESTs the test server ACKs (the lease and one renewal) before
// it NAKs every other.
const ackedRequests = 2

// leaseHost is the host number of the address the test server leases: .50 in the subnet.
const leaseHost = 50

// TestDHCPInNamespace runs a DHCP server with one fixed lease in the peer namespace and the
// service in DHCP mode in the node namespace, and checks the leased address, the default route
// and the resolver file with netlink, that the lease is renewed, and that the address goes
// when the server refuses the next renewal.
func TestDHCPInNamespace(t *testing.T) {
	if !isChild() {
		n := newTestNet(t)
		var acks, naks atomic.Int32
		startDHCPServer(t, n, &acks, &naks)
		n.runChild(t)
		if a, n := acks.Load(), naks.Load(); a != ackedRequests || n < 1 {
			t.Errorf("DHCP server sent %d ACKs and %d NAKs, want %d ACKs (lease and renewal) and NAKs after", a, n, ackedRequests)
		}
		return
	}

	subnet := childSubnet(t)
	peer := subnet.Addr().Next()
	leased := netip.PrefixFrom(hostAddr(subnet, leaseHost), subnet.Bits())
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	svc := New(Config{ResolvConfPath: resolv})
	supervisor.TestHarness(t, svc.Run)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	w := svc.Watch()
	defer w.Close()
	st, err := w.Get(ctx, event.Filter(HasAddress))
	if err != nil {
		t.Fatalf("waiting for an address: %v", err)
	}
	t.Logf("status: %s, lease ends %s", st, st.LeaseExpiry)
	if !st.DHCP || len(st.Addresses) != 1 || st.Addresses[0] != leased || st.LeaseExpiry.IsZero() || len(st.NTPServers) != 1 {
		t.Fatalf("status %s, want the lease of %s", st, leased)
	}
	link, err := netlink.LinkByName(st.Link)
	if err != nil {
		t.Fatal(err)
	}
	requireAddress(t, link, leased)
	requireDefaultRoute(t, link, netlink.FAMILY_V4, peer)
	requireResolvConf(t, resolv, "nameserver "+peer.String()+"\n")

	// The renewal publishes the same address with a later expiry.
	first := st.LeaseExpiry
	st, err = w.Get(ctx, event.Filter(func(s *Status) bool { return s.LeaseExpiry.After(first) }))
	if err != nil {
		t.Fatalf("waiting for the lease to be renewed: %v", err)
	}
	t.Logf("renewed: %s, lease ends %s", st, st.LeaseExpiry)
	if len(st.Addresses) != 1 || st.Addresses[0] != leased {
		t.Errorf("status after renewal %s", st)
	}
	requireAddress(t, link, leased)

	// The server refuses the next renewal: the address must go.
	st, err = w.Get(ctx, event.Filter(func(s *Status) bool { return !HasAddress(s) }))
	if err != nil {
		t.Fatalf("waiting for the refused lease's address to go: %v", err)
	}
	t.Logf("after the refusal: %s", st)
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if a.IPNet.String() == leased.String() {
			t.Errorf("link %s still has the refused lease's address %s", link.Attrs().Name, leased)
		}
	}
}

// hostAddr is address number i in subnet.
func hostAddr(subnet netip.Prefix, i int) netip.Addr {
	a := subnet.Addr()
	for range i {
		a = a.Next()
	}
	return a
}

// startDHCPServer serves DHCP in n's peer namespace: every client gets address .50 of the
// subnet, the peer as router and nameserver, for testLeaseSeconds; after ackedRequests
// REQUESTs it refuses (NAKs) every other.
func startDHCPServer(t *testing.T, n *testNet, acks, naks *atomic.Int32) {
	t.Helper()
	serverIP := net.IP(n.peerAddr().AsSlice())
	leased := net.IP(hostAddr(n.subnet, leaseHost).AsSlice())
	handler := func(conn net.PacketConn, _ net.Addr, m *dhcpv4.DHCPv4) {
		var reply dhcpv4.MessageType
		switch m.MessageType() {
		case dhcpv4.MessageTypeDiscover:
			reply = dhcpv4.MessageTypeOffer
		case dhcpv4.MessageTypeRequest:
			reply = dhcpv4.MessageTypeAck
			if acks.Load() >= ackedRequests {
				reply = dhcpv4.MessageTypeNak
			}
		default:
			return
		}
		resp, err := dhcpv4.NewReplyFromRequest(m,
			dhcpv4.WithMessageType(reply),
			dhcpv4.WithYourIP(leased),
			dhcpv4.WithServerIP(serverIP),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(serverIP)),
			dhcpv4.WithNetmask(net.CIDRMask(n.subnet.Bits(), 32)),
			dhcpv4.WithRouter(serverIP),
			dhcpv4.WithDNS(serverIP),
			dhcpv4.WithOption(dhcpv4.OptNTPServers(serverIP)),
			dhcpv4.WithLeaseTime(testLeaseSeconds),
		)
		if err != nil {
			t.Errorf("DHCP reply: %v", err)
			return
		}
		// The client has no address yet: answer by broadcast on the link.
		if _, err := conn.WriteTo(resp.ToBytes(), &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}); err != nil {
			t.Errorf("send DHCP %s: %v", reply, err)
			return
		}
		switch reply {
		case dhcpv4.MessageTypeAck:
			acks.Add(1)
		case dhcpv4.MessageTypeNak:
			naks.Add(1)
		}
	}
	var server *server4.Server
	err := inNamespace(n.peer, func() (err error) {
		// The server's socket is made here, in the peer namespace, and stays there.
		server, err = server4.NewServer(n.peerLink, &net.UDPAddr{IP: net.IPv4zero, Port: dhcpv4.ServerPort}, handler)
		return err
	})
	if err != nil {
		t.Fatalf("start DHCP server in %s: %v", n.peer, err)
	}
	go server.Serve()
	t.Cleanup(func() { server.Close() })
}
