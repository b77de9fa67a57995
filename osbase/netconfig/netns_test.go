package netconfig

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"metropolis.dev/metropolis/osbase/ipconfig"
)

// The root tests run in two roles. The parent (a normal `go test`) makes two network
// namespaces joined by a veth pair, "node" and "peer", and re-runs the test binary for the same
// test inside the node namespace (`ip netns exec`), where the whole process, and so every
// goroutine of the service under test, sees only the node's links. The child finds envNode set
// and does the actual test. The peer namespace holds what the node talks to (a DHCP server).
const (
	envNode   = "NETCONFIG_TEST_NODE_NS"
	envSubnet = "NETCONFIG_TEST_SUBNET"
	envMAC    = "NETCONFIG_TEST_MAC"
	// envPeer is the address of the peer's listener (testNet.listen), for the child to dial.
	envPeer = "NETCONFIG_TEST_PEER"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and veth pairs")
	}
}

// isChild reports whether this process is the re-run inside the node namespace.
func isChild() bool { return os.Getenv(envNode) != "" }

// testNet is a node and a peer namespace joined by a veth pair.
type testNet struct {
	node, peer string
	// peerLink is the peer namespace's end of the pair; it holds subnet's first address.
	peerLink string
	subnet   netip.Prefix
	// nodeMAC is the hardware address of the node's end.
	nodeMAC string
}

// peerAddr is the peer's address in the subnet (the gateway, DHCP server and nameserver).
func (n *testNet) peerAddr() netip.Addr { return n.subnet.Addr().Next() }

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// newTestNet makes the namespaces, removed when the test ends. Names and subnet are random,
// so that parallel runs and leftovers of crashed ones do not clash.
func newTestNet(t *testing.T) *testNet {
	t.Helper()
	requireRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip (iproute2, from scripts/deps) is needed: %v", err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	v, err := rand.Int(rand.Reader, big.NewInt(50*256))
	if err != nil {
		t.Fatal(err)
	}
	n := &testNet{
		node:     "nc-node-" + id,
		peer:     "nc-peer-" + id,
		peerLink: "ncp" + id,
		subnet:   netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", 200+v.Int64()/256, v.Int64()%256)),
		nodeMAC:  fmt.Sprintf("52:54:00:%s:%s:%s", id[0:2], id[2:4], id[4:6]),
	}
	nodeLink := "ncn" + id
	for _, ns := range []string{n.node, n.peer} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", ns).Run() })
	}
	run(t, "ip", "link", "add", nodeLink, "address", n.nodeMAC, "type", "veth", "peer", "name", n.peerLink)
	run(t, "ip", "link", "set", nodeLink, "netns", n.node)
	run(t, "ip", "link", "set", n.peerLink, "netns", n.peer)
	run(t, "ip", "-n", n.peer, "address", "add", netip.PrefixFrom(n.peerAddr(), n.subnet.Bits()).String(), "dev", n.peerLink)
	run(t, "ip", "-n", n.peer, "link", "set", n.peerLink, "up")
	run(t, "ip", "-n", n.peer, "link", "set", "lo", "up")
	return n
}

// runChild re-runs the current test in the node namespace and fails if it fails there. Its
// output becomes part of this test's.
func (n *testNet) runChild(t *testing.T, extraEnv ...string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", n.node, self, "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), envNode+"="+n.node, envSubnet+"="+n.subnet.String(), envMAC+"="+n.nodeMAC)
	cmd.Env = append(cmd.Env, extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("in namespace %s:\n%s", n.node, out.String())
	if err != nil {
		t.Fatalf("test in namespace %s failed: %v", n.node, err)
	}
	if !bytes.Contains(out.Bytes(), []byte("--- PASS: "+t.Name())) {
		t.Fatalf("test in namespace %s did not pass (skipped?)", n.node)
	}
}

// inNamespace runs fn on an OS thread in namespace ns. The thread is retired afterwards
// (its goroutine ends locked), so no other goroutine runs there by accident; sockets fn
// creates stay in ns.
func inNamespace(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.GetFromName(ns)
		if err != nil {
			errc <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// childSubnet is the subnet the parent chose, as the child sees it.
func childSubnet(t *testing.T) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(os.Getenv(envSubnet))
	if err != nil {
		t.Fatalf("%s: %v", envSubnet, err)
	}
	return p
}

// childAddresses are the child's addresses for tests that move the node: the peer's (the
// gateway), the node's boot address and the one it moves to, in the subnet the parent chose.
func childAddresses(t *testing.T) (peer netip.Addr, boot, moved netip.Prefix) {
	t.Helper()
	subnet := childSubnet(t)
	peer = subnet.Addr().Next()
	return peer, netip.PrefixFrom(peer.Next(), subnet.Bits()), netip.PrefixFrom(peer.Next().Next().Next(), subnet.Bits())
}

// childStatic is a static configuration of the child's link (by its hardware address) with
// address p and gateway gw.
func childStatic(t *testing.T, p netip.Prefix, gw netip.Addr) *ipconfig.Static {
	t.Helper()
	s, err := ipconfig.ParseStatic(ipconfig.Text{HardwareAddress: os.Getenv(envMAC), Addresses: []string{p.String()}, Gateways: []string{gw.String()}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// listen starts a listener in the peer namespace, closed when the test ends, that greets
// whoever connects; it returns the listener's address.
func (n *testNet) listen(t *testing.T) string {
	t.Helper()
	var ln net.Listener
	err := inNamespace(n.peer, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(n.peerAddr(), 0).String())
		return err
	})
	if err != nil {
		t.Fatalf("listen in peer namespace: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(peerGreeting))
			c.Close()
		}
	}()
	return ln.Addr().String()
}

const peerGreeting = "hello from the peer"

// helloFromPeer dials the peer's listener (envPeer) from the child and checks its greeting:
// the node's configured address and routes reach the peer.
func helloFromPeer() error {
	conn, err := net.DialTimeout("tcp", os.Getenv(envPeer), patience)
	if err != nil {
		return fmt.Errorf("dial the peer through the configured link: %w", err)
	}
	defer conn.Close()
	buf := make([]byte, 64)
	_ = conn.SetReadDeadline(time.Now().Add(patience))
	nr, _ := conn.Read(buf)
	if got := string(buf[:nr]); got != peerGreeting {
		return fmt.Errorf("the peer said %q, want %q", got, peerGreeting)
	}
	return nil
}
