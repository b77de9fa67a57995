package clusternet

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"metropolis.dev/metropolis/node/kubernetes/internal/netnstest"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// newNetNS makes a network namespace that lives as long as the test.
func newNetNS(t *testing.T) netns.NsHandle {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and programs routes and nf_tables in them")
	}
	return netnstest.New(t)
}

// kernelHasWireGuard tells whether a WireGuard link can be made (in a
// scratch namespace).
func kernelHasWireGuard(t *testing.T) bool {
	h, err := netlink.NewHandleAt(newNetNS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	err = h.LinkAdd(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: "probe"}})
	if err != nil && !wireGuardMissing(err) {
		t.Fatalf("probing for WireGuard: %v", err)
	}
	return err == nil
}

// ourRoutes returns our routes in h's namespace as "dst via gw dev link".
func ourRoutes(t *testing.T, h *netlink.Handle) []string {
	list, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: RouteProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		t.Fatalf("listing routes: %v", err)
	}
	var s []string
	for _, r := range list {
		link, err := h.LinkByIndex(r.LinkIndex)
		if err != nil {
			t.Fatalf("link of route %v: %v", r, err)
		}
		s = append(s, fmt.Sprintf("%v via %v dev %s", r.Dst, r.Gw, link.Attrs().Name))
	}
	sort.Strings(s)
	return s
}

// patience bounds every wait for the service to catch up with a change.
const patience = 15 * time.Second

// wantRoutes checks that the routes the service manages in h are exactly want.
func wantRoutes(t *testing.T, h *netlink.Handle, want ...string) func(context.Context) error {
	return func(context.Context) error {
		got := ourRoutes(t, h)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			return fmt.Errorf("routes %q, want %q", got, want)
		}
		return nil
	}
}

func TestRootService(t *testing.T) {
	ns := newNetNS(t)
	withWireGuard := kernelHasWireGuard(t)
	if withWireGuard {
		t.Log("the kernel has WireGuard: testing plain routes with WireGuard off; the fallback is not exercised")
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// The node's link: other nodes' addresses are on it. A veth pair
	// (its peer left in the namespace) stands in for the node's NIC.
	uplink := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "uplink"}, PeerName: "uplink-peer"}
	if err := h.LinkAdd(uplink); err != nil {
		t.Fatalf("adding veth uplink: %v", err)
	}
	if peer, err := h.LinkByName("uplink-peer"); err != nil || h.LinkSetUp(peer) != nil {
		t.Fatalf("setting uplink-peer up: %v", err)
	}
	addr, _ := netlink.ParseAddr("192.168.1.10/24")
	if err := h.AddrAdd(uplink, addr); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(uplink); err != nil {
		t.Fatal(err)
	}
	// A route someone else made inside the pod range must stay.
	_, foreign, _ := net.ParseCIDR("10.112.99.0/24")
	if err := h.RouteAdd(&netlink.Route{Dst: foreign, Gw: net.ParseIP("192.168.1.99"), Protocol: netlink.RouteProtocol(4)}); err != nil {
		t.Fatal(err)
	}

	self := testNode("self", "10.112.0.0/24", "192.168.1.10", "stale-key-from-a-boot-with-wireguard")
	client := fake.NewClientset(
		self,
		testNode("a", "10.112.1.0/24", "192.168.1.11", ""),
		testNode("b", "10.112.2.0/24", "192.168.1.12", ""),
		testNode("c", "", "192.168.1.13", ""),
	)
	dir := t.TempDir()
	svc, err := New(Config{
		Client:     client,
		NodeClient: client,
		NodeName:   "self",
		CNIConfDir: filepath.Join(dir, "net.d"),
		CNIDataDir: filepath.Join(dir, "ipam"),
		PodCIDR:    "10.112.0.0/12",
		WireGuard:  !withWireGuard,
		NetNS:      int(ns),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, lt := supervisor.TestHarness(t, svc.Run)
	ctx := context.Background()

	// The CNI configuration for our subnet.
	wantConf, err := ConfList(netip.MustParsePrefix("10.112.0.0/24"), 1420, filepath.Join(dir, "ipam"))
	if err != nil {
		t.Fatal(err)
	}
	eventually.Pass(t, patience, "CNI configuration", func(context.Context) error {
		got, err := os.ReadFile(filepath.Join(dir, "net.d", ConfListName))
		if err != nil {
			return err
		}
		if string(got) != string(wantConf) {
			return fmt.Errorf("configuration %q, want %q", got, wantConf)
		}
		return nil
	})

	// Routes to a and b (c has no subnet), and the foreign route untouched.
	eventually.Pass(t, patience, "routes to a and b", wantRoutes(t, h,
		"10.112.1.0/24 via 192.168.1.11 dev uplink",
		"10.112.2.0/24 via 192.168.1.12 dev uplink"))

	// c gets its subnet; a goes; b gets another subnet.
	c, _ := client.CoreV1().Nodes().Get(ctx, "c", metav1.GetOptions{})
	c.Spec.PodCIDR, c.Spec.PodCIDRs = "10.112.3.0/24", []string{"10.112.3.0/24"}
	if _, err := client.CoreV1().Nodes().Update(ctx, c, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.Pass(t, patience, "route to c", wantRoutes(t, h,
		"10.112.1.0/24 via 192.168.1.11 dev uplink",
		"10.112.2.0/24 via 192.168.1.12 dev uplink",
		"10.112.3.0/24 via 192.168.1.13 dev uplink"))
	if err := client.CoreV1().Nodes().Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.Pass(t, patience, "route to a removed", wantRoutes(t, h,
		"10.112.2.0/24 via 192.168.1.12 dev uplink",
		"10.112.3.0/24 via 192.168.1.13 dev uplink"))
	b, _ := client.CoreV1().Nodes().Get(ctx, "b", metav1.GetOptions{})
	b.Spec.PodCIDR, b.Spec.PodCIDRs = "10.112.4.0/24", []string{"10.112.4.0/24"}
	if _, err := client.CoreV1().Nodes().Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.Pass(t, patience, "route to b follows its subnet", wantRoutes(t, h,
		"10.112.3.0/24 via 192.168.1.13 dev uplink",
		"10.112.4.0/24 via 192.168.1.12 dev uplink"))
	if list, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: foreign}, netlink.RT_FILTER_DST); err != nil || len(list) != 1 {
		t.Errorf("foreign route 10.112.99.0/24: %v (%v), want it kept", list, err)
	}

	st, _ := svc.Status().Watch().Get(ctx)
	if st.PodCIDR.String() != "10.112.0.0/24" || st.WireGuard || st.Peers != 2 {
		t.Errorf("status = %+v, want pod subnet 10.112.0.0/24, no WireGuard, 2 peers", st)
	}
	if !withWireGuard {
		checkFallback(t, client, lt, st)
	}
	checkEgress(t, ns)
	checkMasquerade(t, ns)
}

// checkFallback checks that the missing WireGuard was reported once over
// several syncs, and that our stale key was withdrawn.
func checkFallback(t *testing.T, client *fake.Clientset, lt *logtree.LogTree, st Status) {
	if st.WireGuardFallback == "" {
		t.Errorf("status has no WireGuard fallback reason although the kernel lacks WireGuard")
	}
	eventually.Pass(t, patience, "stale key withdrawn", func(ctx context.Context) error {
		n, err := client.CoreV1().Nodes().Get(ctx, "self", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if k, ok := n.Annotations[AnnotationWireGuardKey]; ok {
			return fmt.Errorf("annotation %s still %q", AnnotationWireGuardKey, k)
		}
		return nil
	})
	r, err := lt.Read("", logtree.WithChildren(), logtree.WithBacklog(logtree.BacklogAll))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	for _, e := range r.Backlog {
		if strings.Contains(e.String(), "WireGuard asked for but unavailable") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("WireGuard fallback logged %d times, want once", n)
	}
}

// checkEgress checks forwarding and the masquerade table in ns.
func checkEgress(t *testing.T, ns netns.NsHandle) {
	err := inNetNS(int(ns), func() error {
		b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
		if err != nil || strings.TrimSpace(string(b)) != "1" {
			return fmt.Errorf("ip_forward = %q (%v), want 1", b, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		t.Fatal(err)
	}
	table := &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}
	rules, err := conn.GetRules(table, &nftables.Chain{Name: "postrouting", Table: table})
	if err != nil || len(rules) != 1 {
		t.Errorf("rules of ip %s postrouting: %d (%v), want the masquerade rule", TableName, len(rules), err)
	}
}
