package netnstest

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Node is a "node" network namespace with pods: each pod is a network
// namespace linked to the node by a veth pair, 10.99.<i>.1 on the node's
// side and 10.99.<i>.2 in the pod, routed through the node.
type Node struct {
	t  testing.TB
	NS netns.NsHandle
}

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and programs nf_tables in them")
	}
}

// NewNode makes a node namespace with forwarding on and reverse-path filtering off.
func NewNode(t testing.TB) *Node {
	n := &Node{t: t, NS: New(t)}
	h := n.handle(n.NS)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("node lo up: %v", err)
	}
	err = Do(n.NS, func() error {
		for _, kv := range [][2]string{
			{"/proc/sys/net/ipv4/ip_forward", "1"},
			{"/proc/sys/net/ipv4/conf/all/rp_filter", "0"},
			{"/proc/sys/net/ipv4/conf/default/rp_filter", "0"},
			// Refused probes get their ICMP error at once, not one a second.
			{"/proc/sys/net/ipv4/icmp_ratelimit", "0"},
		} {
			if err := os.WriteFile(kv[0], []byte(kv[1]), 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("node sysctls: %v", err)
	}
	return n
}

func (n *Node) handle(ns netns.NsHandle) *netlink.Handle {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		n.t.Fatalf("netlink handle: %v", err)
	}
	n.t.Cleanup(h.Close)
	return h
}

// AddPod makes pod i and returns its namespace.
func (n *Node) AddPod(i int) netns.NsHandle {
	t := n.t
	pod := New(t)
	nodeH, podH := n.handle(n.NS), n.handle(pod)
	nodeSide, podSide := "pod"+strconv.Itoa(i), "eth0"
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nodeSide}, PeerName: "tmp" + strconv.Itoa(i), PeerNamespace: netlink.NsFd(pod)}
	if err := nodeH.LinkAdd(veth); err != nil {
		t.Fatalf("veth for pod %d: %v", i, err)
	}
	must := func(what string, err error) {
		if err != nil {
			t.Fatalf("pod %d: %s: %v", i, what, err)
		}
	}
	nl, err := nodeH.LinkByName(nodeSide)
	must("node link", err)
	pl, err := podH.LinkByName("tmp" + strconv.Itoa(i))
	must("pod link", err)
	must("rename", podH.LinkSetName(pl, podSide))
	must("node addr", nodeH.AddrAdd(nl, mustAddr(t, "10.99."+strconv.Itoa(i)+".1/24")))
	must("pod addr", podH.AddrAdd(pl, mustAddr(t, "10.99."+strconv.Itoa(i)+".2/24")))
	must("node up", nodeH.LinkSetUp(nl))
	must("pod up", podH.LinkSetUp(pl))
	lo, err := podH.LinkByName("lo")
	must("pod lo", err)
	must("pod lo up", podH.LinkSetUp(lo))
	must("pod route", podH.RouteAdd(&netlink.Route{LinkIndex: pl.Attrs().Index, Gw: net.ParseIP("10.99." + strconv.Itoa(i) + ".1")}))
	return pod
}

// RouteVia routes dst from the node through pod i's link, so that the
// node has a route to ClusterIPs as a real node has.
func (n *Node) RouteVia(dst string, i int) {
	h := n.handle(n.NS)
	l, err := h.LinkByName("pod" + strconv.Itoa(i))
	if err != nil {
		n.t.Fatalf("link: %v", err)
	}
	_, ipnet, _ := net.ParseCIDR(dst)
	if err := h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: ipnet}); err != nil {
		n.t.Fatalf("route %s: %v", dst, err)
	}
}

func mustAddr(t testing.TB, s string) *netlink.Addr {
	a, err := netlink.ParseAddr(s)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return a
}

// Serve answers every TCP connection to :port in ns with name.
func Serve(t *testing.T, ns netns.NsHandle, port int, name string) {
	var l net.Listener
	err := Do(ns, func() (err error) {
		l, err = net.Listen("tcp4", ":"+strconv.Itoa(port))
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", name, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// A client that went away gets nothing; the next one is served alike.
			_, _ = c.Write([]byte(name))
			c.Close()
		}
	}()
}

// Ask connects from ns to addr and returns what the server said.
func Ask(ns netns.NsHandle, addr string) (string, error) {
	var c net.Conn
	err := Do(ns, func() (err error) {
		d := net.Dialer{Timeout: 500 * time.Millisecond}
		c, err = d.DialContext(context.Background(), "tcp4", addr)
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	if len(b) == 0 {
		return "", errors.New("empty answer")
	}
	return string(b), nil
}

// ServeUDP answers every UDP datagram to :port in ns with name.
func ServeUDP(t *testing.T, ns netns.NsHandle, port int, name string) {
	var c net.PacketConn
	err := Do(ns, func() (err error) {
		c, err = net.ListenPacket("udp4", ":"+strconv.Itoa(port))
		return err
	})
	if err != nil {
		t.Fatalf("listen udp in %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteTo([]byte(name), from) // a lost answer is the client's timeout
		}
	}()
}
