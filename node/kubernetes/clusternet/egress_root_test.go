package clusternet

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// linkNamespaces joins a and b with a veth pair (aName in a with aAddr,
// "eth0" in b with bAddr), both up; bGateway, if set, becomes b's default
// route.
func linkNamespaces(t *testing.T, a netns.NsHandle, aName, aAddr string, b netns.NsHandle, bAddr, bGateway string) {
	t.Helper()
	ha, err := netlink.NewHandleAt(a)
	if err != nil {
		t.Fatal(err)
	}
	defer ha.Close()
	hb, err := netlink.NewHandleAt(b)
	if err != nil {
		t.Fatal(err)
	}
	defer hb.Close()
	if err := ha.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: aName}, PeerName: aName + "-b", PeerNamespace: netlink.NsFd(b)}); err != nil {
		t.Fatalf("veth %s: %v", aName, err)
	}
	must := func(what string, err error) {
		if err != nil {
			t.Fatalf("veth %s: %s: %v", aName, what, err)
		}
	}
	la, err := ha.LinkByName(aName)
	must("link a", err)
	lb, err := hb.LinkByName(aName + "-b")
	must("link b", err)
	must("rename b", hb.LinkSetName(lb, "eth0"))
	addrA, _ := netlink.ParseAddr(aAddr)
	addrB, _ := netlink.ParseAddr(bAddr)
	must("address a", ha.AddrAdd(la, addrA))
	must("address b", hb.AddrAdd(lb, addrB))
	must("up a", ha.LinkSetUp(la))
	must("up b", hb.LinkSetUp(lb))
	if bGateway != "" {
		must("default route b", hb.RouteAdd(&netlink.Route{LinkIndex: lb.Attrs().Index, Gw: net.ParseIP(bGateway)}))
	}
}

// checkMasquerade sends a connection from a pod on node (10.112.0.2) to a
// host outside the cluster that has no route back to pods, and checks that
// it arrives from the node's address.
func checkMasquerade(t *testing.T, node netns.NsHandle) {
	pod, outside := newNetNS(t), newNetNS(t)
	linkNamespaces(t, node, "pod0", "10.112.0.1/24", pod, "10.112.0.2/24", "10.112.0.1")
	linkNamespaces(t, node, "wan", "172.31.0.1/24", outside, "172.31.0.2/24", "")

	var l net.Listener
	err := inNetNS(int(outside), func() (err error) {
		l, err = net.Listen("tcp4", "172.31.0.2:8080")
		return err
	})
	if err != nil {
		t.Fatalf("listening outside: %v", err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(c.RemoteAddr().(*net.TCPAddr).IP.String()))
			c.Close()
		}
	}()

	var seen []byte
	err = inNetNS(int(pod), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp4", "172.31.0.2:8080")
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		seen, err = io.ReadAll(c)
		return err
	})
	if err != nil {
		t.Fatalf("pod to outside host: %v", err)
	}
	if string(seen) != "172.31.0.1" {
		t.Errorf("outside host saw the pod's connection from %q, want the node's 172.31.0.1", seen)
	}
}
