package netpol

import (
	"bufio"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"

	"metropolis.dev/metropolis/node/kubernetes/internal/netnstest"
	"metropolis.dev/metropolis/node/kubernetes/internal/nftconn"
)

// TestApplyEnforces programs the rules into a scratch node namespace with
// three pods (10.99.<i>.2) and checks, with real connections, what passes and
// what is refused, and that a connection a new generation of rules no longer
// allows is cut.
func TestApplyEnforces(t *testing.T) {
	netnstest.RequireRoot(t)
	n := netnstest.NewNode(t)
	pod1, pod2, pod3 := n.AddPod(1), n.AddPod(2), n.AddPod(3)
	for i, ns := range []netns.NsHandle{pod1, pod2, pod3} {
		netnstest.Serve(t, ns, 8080, "pod"+string(rune('1'+i)))
		netnstest.ServeUDP(t, ns, 5353, "pod"+string(rune('1'+i)))
	}
	echo(t, pod1, 9000)
	conn, err := nftconn.Open(int(n.NS))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseLasting()

	// pod1 takes TCP 8080 and 9000 from pod2 only; pod3 may send only UDP
	// 5353 to pod1.
	rules := []Rules{
		{Pod: "t/pod1", IP: ip("10.99.1.2"), IngressIsolated: true, Ingress: []Allow{{peerIP("10.99.2.2"), tcp(8080, 9000)}}},
		{Pod: "t/pod2", IP: ip("10.99.2.2")},
		{Pod: "t/pod3", IP: ip("10.99.3.2"), EgressIsolated: true, Egress: []Allow{{peerIP("10.99.1.2"), udp(5353, 5353)}}},
	}
	if err := Apply(conn, rules, 1); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	long := dialEcho(t, pod2, "10.99.1.2:9000")
	for _, c := range []struct {
		what     string
		from     netns.NsHandle
		tcp, udp string
		want     string // an answer, or "" for refused
	}{
		{"pod2 → pod1 TCP, allowed", pod2, "10.99.1.2:8080", "", "pod1"},
		{"pod3 → pod1 TCP, not in pod1's ingress nor pod3's egress", pod3, "10.99.1.2:8080", "", ""},
		{"node → pod1 TCP, the node is always allowed", n.NS, "10.99.1.2:8080", "", "pod1"},
		{"pod1 → pod2 TCP, pod1's egress is open", pod1, "10.99.2.2:8080", "", "pod2"},
		{"pod3 → pod1 UDP, not in pod1's ingress", pod3, "", "10.99.1.2:5353", ""},
		{"pod2 → pod3 UDP, pod3's ingress is open", pod2, "", "10.99.3.2:5353", "pod3"},
		{"pod3 → pod2 UDP, not in pod3's egress", pod3, "", "10.99.2.2:5353", ""},
	} {
		var got string
		var err error
		if c.tcp != "" {
			got, err = netnstest.Ask(c.from, c.tcp)
		} else {
			got, err = askUDP(c.from, c.udp)
		}
		switch {
		case c.want != "" && got != c.want:
			t.Errorf("%s: got %q, %v; want %q", c.what, got, err, c.want)
		case c.want == "" && err == nil:
			t.Errorf("%s: got %q, want refused", c.what, got)
		case c.want == "" && c.tcp != "" && !isRefused(err):
			t.Errorf("%s: %v, want a reset (connection refused) rather than a timeout", c.what, err)
		}
	}
	if err := long.roundTrip("before"); err != nil {
		t.Fatalf("the long connection pod2 → pod1 failed before any change: %v", err)
	}

	// Rules that no longer let pod2 in cut its open connection; an
	// unchanged rule set under a new generation does not.
	if err := Apply(conn, rules, 2); err != nil {
		t.Fatal(err)
	}
	if err := long.roundTrip("same rules"); err != nil {
		t.Fatalf("the long connection failed after the same rules were applied again: %v", err)
	}
	rules[0].Ingress = []Allow{{peerIP("10.99.3.2"), tcp(8080, 9000)}}
	if err := Apply(conn, rules, 3); err != nil {
		t.Fatal(err)
	}
	if err := long.roundTrip("after"); err == nil {
		t.Error("the long connection pod2 → pod1 still works after pod1 stopped allowing pod2")
	}
	if got, err := netnstest.Ask(pod2, "10.99.1.2:8080"); err == nil {
		t.Errorf("pod2 → pod1 after the change: got %q, want refused", got)
	}
}

// TestApplyLarge checks that sets spanning many netlink messages arrive whole
// and that a second Apply replaces rather than adds.
func TestApplyLarge(t *testing.T) {
	netnstest.RequireRoot(t)
	ns := netnstest.New(t)
	conn, err := nftconn.Open(int(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseLasting()
	for gen, pods := range []int{300, 40} {
		var rules []Rules
		for i := range pods {
			r := Rules{Pod: "p", IP: addr(0x0a700000 + uint32(i)), IngressIsolated: true}
			for k := range 10 {
				r.Ingress = append(r.Ingress, Allow{Peer: single(addr(0x0a710000 + uint32(k*2))), Ports: tcp(80, 80)})
			}
			rules = append(rules, r)
		}
		if err := Apply(conn, rules, uint16(gen+1)); err != nil {
			t.Fatalf("Apply for %d pods: %v", pods, err)
		}
		table := &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}
		for set, want := range map[string]int{"ingress-isolated": pods, "ingress-allow": pods * 10} {
			s, err := conn.GetSetByName(table, set)
			if err != nil {
				t.Fatalf("set %s: %v", set, err)
			}
			elems, err := conn.GetSetElements(s)
			if err != nil {
				t.Fatalf("elements of %s: %v", set, err)
			}
			if got := countElements(elems); got != want {
				t.Errorf("after Apply for %d pods, %s holds %d elements, want %d", pods, set, got, want)
			}
		}
	}
}

// echoConn is an open TCP connection to an echo server.
type echoConn struct {
	c net.Conn
	r *bufio.Reader
}

func (e *echoConn) roundTrip(line string) error {
	e.c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := e.c.Write([]byte(line + "\n")); err != nil {
		return err
	}
	got, err := e.r.ReadString('\n')
	if err == nil && strings.TrimSpace(got) != line {
		return errUnexpected(got)
	}
	return err
}

type errUnexpected string

func (e errUnexpected) Error() string { return "unexpected echo " + string(e) }

func dialEcho(t *testing.T, from netns.NsHandle, to string) *echoConn {
	var c net.Conn
	err := netnstest.Do(from, func() (err error) {
		c, err = net.DialTimeout("tcp4", to, time.Second)
		return err
	})
	if err != nil {
		t.Fatalf("dial echo %s: %v", to, err)
	}
	t.Cleanup(func() { c.Close() })
	return &echoConn{c: c, r: bufio.NewReader(c)}
}

// echo answers every line on TCP :port in ns with the same line.
func echo(t *testing.T, ns netns.NsHandle, port int) {
	var l net.Listener
	err := netnstest.Do(ns, func() (err error) {
		l, err = net.Listen("tcp4", ":"+strconv.Itoa(port))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
}

// askUDP sends a datagram from ns to addr and returns the answer.
func askUDP(ns netns.NsHandle, to string) (string, error) {
	var c net.Conn
	err := netnstest.Do(ns, func() (err error) {
		c, err = net.Dial("udp4", to)
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("?")); err != nil {
		return "", err
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

// countElements counts elements, not the end markers that the kernel
// reports for some interval sets as elements of their own.
func countElements(elems []nftables.SetElement) int {
	n := 0
	for _, e := range elems {
		if !e.IntervalEnd {
			n++
		}
	}
	return n
}

func isRefused(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection refused") || errors.Is(err, syscall.ECONNREFUSED))
}
