package netconfig

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/ipconfig"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// patience bounds every wait in the namespace tests: generous for a loaded machine.
const patience = 20 * time.Second

// TestStaticInNamespace configures the node's end of a veth pair, chosen by its hardware
// address, from a static configuration, and checks the link's addresses and default routes
// with netlink, the resolver file, and that the peer is reachable through it.
func TestStaticInNamespace(t *testing.T) {
	if !isChild() {
		n := newTestNet(t)
		n.runChild(t, envPeer+"="+n.listen(t))
		return
	}

	subnet := childSubnet(t)
	peer := subnet.Addr().Next()
	own := netip.PrefixFrom(peer.Next(), subnet.Bits())
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	static, err := ipconfig.ParseStatic(ipconfig.Text{
		HardwareAddress: os.Getenv(envMAC),
		Addresses:       []string{own.String(), "2001:db8::2/64"},
		Gateways:        []string{peer.String(), "fe80::1"},
		Nameservers:     []string{"192.0.2.53"},
	})
	if err != nil {
		t.Fatalf("static configuration: %v", err)
	}
	svc := New(Config{Static: static, ResolvConfPath: resolv})
	supervisor.TestHarness(t, svc.Run)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	w := svc.Watch()
	defer w.Close()
	st, err := w.Get(ctx, event.Filter(HasAddress))
	if err != nil {
		t.Fatalf("waiting for an address: %v", err)
	}
	t.Logf("status: %s", st)
	if st.HardwareAddress.String() != os.Getenv(envMAC) || st.DHCP || len(st.Addresses) != 2 {
		t.Errorf("status %s", st)
	}

	link, err := netlink.LinkByName(st.Link)
	if err != nil {
		t.Fatal(err)
	}
	requireAddress(t, link, own)
	requireAddress(t, link, netip.MustParsePrefix("2001:db8::2/64"))
	requireDefaultRoute(t, link, netlink.FAMILY_V4, peer)
	requireDefaultRoute(t, link, netlink.FAMILY_V6, netip.MustParseAddr("fe80::1"))
	requireResolvConf(t, resolv, "nameserver 192.0.2.53\n")

	if err := helloFromPeer(); err != nil {
		t.Error(err)
	}
}

func requireAddress(t *testing.T, link netlink.Link, want netip.Prefix) {
	t.Helper()
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, a := range addrs {
		have = append(have, a.IPNet.String())
		if a.IPNet.String() == want.String() {
			return
		}
	}
	t.Errorf("link %s lacks address %s; has %v", link.Attrs().Name, want, have)
}

func requireDefaultRoute(t *testing.T, link netlink.Link, family int, gw netip.Addr) {
	t.Helper()
	routes, err := netlink.RouteList(link, family)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		isDefault := r.Dst == nil || r.Dst.IP.IsUnspecified() && strings.HasSuffix(r.Dst.String(), "/0")
		if isDefault && r.Gw.String() == gw.String() {
			return
		}
	}
	t.Errorf("link %s has no default route via %s; routes: %v", link.Attrs().Name, gw, routes)
}

func requireResolvConf(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("resolver file: %v", err)
	}
	if !strings.Contains(string(got), want) {
		t.Errorf("resolver file %s says\n%s\nwant it to contain %q", path, got, want)
	}
}
