package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"metropolis.dev/metropolis/osbase/eventually"
)

// patience bounds every wait: generous for a loaded machine, and never an assertion itself.
const patience = 10 * time.Second

// cutOffTimeout is how long a connection attempt to a cut-off node may take before it counts as
// failed. A reachable node on a local bridge answers in microseconds.
const cutOffTimeout = 500 * time.Millisecond

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces (bind mounts under /run/netns), a bridge and veth pairs")
	}
}

// uniqueSpec returns a spec whose name and subnet no other test run uses, so that parallel runs
// and leftovers of crashed ones do not clash.
func uniqueSpec(t *testing.T, nodes int) Spec {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := "t" + hex.EncodeToString(b)[:7]
	// 10.200.0.0 to 10.249.255.0, /24 each: private, and away from the default 10.77.0.0/24.
	n, err := rand.Int(rand.Reader, big.NewInt(50*256))
	if err != nil {
		t.Fatal(err)
	}
	v := int(n.Int64())
	subnet := netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", 200+v/256, v%256))
	return Spec{Name: name, Subnet: subnet, Nodes: nodes}
}

func create(t *testing.T, spec Spec) *Network {
	t.Helper()
	n, err := Create(context.Background(), spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return n
}

// greeter listens on port 0 of node i and greets every connection with the greeting it returns.
func greeter(t *testing.T, n *Network, i int) (netip.AddrPort, string) {
	t.Helper()
	node, err := n.Node(i)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	// The listening socket is created in the node's namespace and stays there.
	err = n.InNode(i, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(node.Address, 0).String())
		return err
	})
	if err != nil {
		t.Fatalf("listen in node %d: %v", i, err)
	}
	t.Cleanup(func() { ln.Close() })
	greeting := fmt.Sprintf("hello from node %d", i)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, greeting)
			c.Close()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String()), greeting
}

// source is where a connection attempt starts: the host, or a node.
type source struct {
	name string
	// node is the node's number, or 0 for the host.
	node int
}

// greet connects from src to addr and returns what it reads.
func greet(n *Network, src source, addr netip.AddrPort, timeout time.Duration) (string, error) {
	var c net.Conn
	dial := func() (err error) {
		c, err = net.DialTimeout("tcp", addr.String(), timeout)
		return err
	}
	var err error
	if src.node == 0 {
		err = dial()
	} else {
		err = n.InNode(src.node, dial)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestNodesHaveTheirAddresses(t *testing.T) {
	requireRoot(t)
	n := create(t, uniqueSpec(t, 3))
	for _, node := range n.Nodes() {
		out, err := n.Command(node.Index, "ip", "-4", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
		if err != nil {
			t.Fatalf("node %d: ip addr: %v: %s", node.Index, err, out)
		}
		want := netip.PrefixFrom(node.Address, n.Subnet().Bits()).String()
		if !strings.Contains(string(out), want) {
			t.Errorf("node %d: eth0 shows %q, want address %s", node.Index, out, want)
		}
		route, err := n.Command(node.Index, "ip", "-4", "route", "show", "default").CombinedOutput()
		if err != nil || !strings.Contains(string(route), "via "+n.HostAddress().String()) {
			t.Errorf("node %d: default route %q (%v), want one via %s", node.Index, route, err, n.HostAddress())
		}
	}
}

func TestCutOffNodeIsUnreachableUntilReconnected(t *testing.T) {
	requireRoot(t)
	n := create(t, uniqueSpec(t, 3))
	addr, greeting := greeter(t, n, 2)
	sources := []source{{"host", 0}, {"node 1", 1}, {"node 3", 3}}

	reachable := func(phase string) {
		t.Helper()
		for _, src := range sources {
			eventually.Pass(t, patience, phase+": "+src.name+" reaches node 2", func(context.Context) error {
				got, err := greet(n, src, addr, patience)
				if err == nil && got != greeting {
					err = fmt.Errorf("read %q, want %q", got, greeting)
				}
				return err
			})
		}
	}
	reachable("connected")

	if err := n.SetLinkUp(2, false); err != nil {
		t.Fatalf("SetLinkUp(2, false): %v", err)
	}
	for _, src := range sources {
		if got, err := greet(n, src, addr, cutOffTimeout); err == nil {
			t.Errorf("cut off: %s still reaches node 2 (read %q)", src.name, got)
		}
	}

	if err := n.SetLinkUp(2, true); err != nil {
		t.Fatalf("SetLinkUp(2, true): %v", err)
	}
	reachable("reconnected")
}

func TestDestroyLeavesNothing(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name string
		// crash damages the network as a crashed launcher might leave it.
		crash func(t *testing.T, n *Network)
	}{
		{"after an orderly run", func(*testing.T, *Network) {}},
		{"after a crash that removed the bridge and one node's link", func(t *testing.T, n *Network) {
			for _, l := range []string{n.Bridge(), n.Nodes()[0].HostLink} {
				if err := deleteLink(l); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"after a crash that left an unmounted namespace file", func(t *testing.T, n *Network) {
			if err := deleteNamespace(n.Nodes()[1].Namespace); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(namespaceDir+"/"+n.Nodes()[1].Namespace, nil, 0o444); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := uniqueSpec(t, 2)
			n, err := Create(context.Background(), spec)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			tc.crash(t, n)
			for attempt := range 2 {
				if err := DestroyByName(spec.Name); err != nil {
					t.Fatalf("DestroyByName, attempt %d: %v", attempt+1, err)
				}
			}
			assertGone(t, spec.Name)
		})
	}
}

func assertGone(t *testing.T, name string) {
	t.Helper()
	links, err := listLinks(name)
	if err != nil || len(links) > 0 {
		t.Errorf("links left: %v (%v)", links, err)
	}
	namespaces, err := listNamespaces(name)
	if err != nil || len(namespaces) > 0 {
		t.Errorf("namespaces left: %v (%v)", namespaces, err)
	}
}

func TestCreateRefusesConflicts(t *testing.T) {
	requireRoot(t)
	first := create(t, uniqueSpec(t, 1))
	for _, tc := range []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"name in use", Spec{Name: first.Name(), Subnet: uniqueSpec(t, 0).Subnet, Nodes: 1}, "name in use"},
		{"subnet in use", Spec{Name: uniqueSpec(t, 0).Name, Subnet: first.Subnet(), Nodes: 1}, "overlaps the host's address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Create(context.Background(), tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Create: %v, want an error containing %q", err, tc.wantErr)
			}
			if tc.spec.Name != first.Name() {
				assertGone(t, tc.spec.Name)
			}
			// The network already there is untouched.
			if _, err := netlink.LinkByName(first.Nodes()[0].HostLink); err != nil {
				t.Errorf("first network lost its node link: %v", err)
			}
			if _, err := os.Stat(namespaceDir + "/" + first.Nodes()[0].Namespace); err != nil {
				t.Errorf("first network lost its namespace: %v", err)
			}
		})
	}
}

func TestCommandForMissingNodeFailsToStart(t *testing.T) {
	n := &Network{name: "dev", subnet: netip.MustParsePrefix(DefaultSubnet)}
	err := n.Command(1, "true").Run()
	if err == nil || !strings.Contains(err.Error(), "no node 1") {
		t.Errorf("Run: %v, want an error saying there is no node 1", err)
	}
}

func TestDestroyByNameRefusesInvalidNames(t *testing.T) {
	// An empty name would match every network's links.
	for _, name := range []string{"", "a-b", "toolongname"} {
		if err := DestroyByName(name); err == nil {
			t.Errorf("DestroyByName(%q) accepted", name)
		}
	}
}

func TestAttachFindsTheNetworkAgain(t *testing.T) {
	requireRoot(t)
	created := create(t, uniqueSpec(t, 2))
	if _, err := created.AddNode(context.Background()); err != nil {
		t.Fatalf("AddNode: %v", err)
	}
	n, err := Attach(created.Spec())
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if got, want := n.Spec(), created.Spec(); got != want {
		t.Errorf("attached spec %+v, want %+v", got, want)
	}
	out, err := n.Command(3, "ip", "-4", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), n.NodeAddress(3).String()+"/") {
		t.Errorf("node 3 through the attached network: %q (%v), want address %s", out, err, n.NodeAddress(3))
	}
}

func TestAttachRefusesMissingNetwork(t *testing.T) {
	requireRoot(t)
	_, err := Attach(uniqueSpec(t, 1))
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Attach: %v, want an error saying the bridge does not exist", err)
	}
}
