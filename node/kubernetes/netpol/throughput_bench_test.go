package netpol

import (
	"io"
	"net"
	"testing"

	"metropolis.dev/metropolis/node/kubernetes/internal/netnstest"
)

// BenchmarkThroughput streams TCP from one pod to another through a test node, without our
// table and with one that isolates the receiver and allows the sender among 100 other peers:
// the difference is what enforcement costs per byte. Run with
// `go test -run x -bench 'Throughput|Connections' ./node/kubernetes/netpol` (root).
func BenchmarkThroughput(b *testing.B) {
	forBothSetups(b, func(b *testing.B, dial func() (net.Conn, error), l net.Listener) {
		go func() {
			c, err := l.Accept()
			if err == nil {
				io.Copy(io.Discard, c)
				c.Close()
			}
		}()
		c, err := dial()
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 64<<10)
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkConnections opens and closes one TCP connection per iteration through the same two
// setups: only a connection's first packet walks the policy sets (later ones match conntrack),
// so this is where enforcement would cost if it cost anything.
func BenchmarkConnections(b *testing.B) {
	forBothSetups(b, func(b *testing.B, dial func() (net.Conn, error), l net.Listener) {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		for b.Loop() {
			c, err := dial()
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
}

// forBothSetups runs bench as sub-benchmarks "no-policy" and "policy", each on a fresh test
// node with a listener in the receiving pod and a dialer from the sending pod.
func forBothSetups(b *testing.B, bench func(b *testing.B, dial func() (net.Conn, error), l net.Listener)) {
	netnstest.RequireRoot(b)
	for _, withPolicy := range []bool{false, true} {
		name := "no-policy"
		if withPolicy {
			name = "policy"
		}
		b.Run(name, func(b *testing.B) {
			n := netnstest.NewNode(b)
			sender, receiver := n.AddPod(1), n.AddPod(2)
			if withPolicy {
				conn, err := OpenConn(int(n.NS))
				if err != nil {
					b.Fatal(err)
				}
				defer conn.CloseLasting()
				r := Rules{Pod: "t/receiver", IP: ip("10.99.2.2"), IngressIsolated: true}
				for i := range 100 {
					r.Ingress = append(r.Ingress, Allow{Peer: single(addr(0x0a000000 + uint32(2*i))), Ports: tcp(80, 80)})
				}
				r.Ingress = mergeAllows(append(r.Ingress, Allow{Peer: peerIP("10.99.1.2"), Ports: tcp(5001, 5001)}))
				if err := Apply(conn, []Rules{r}, 1); err != nil {
					b.Fatal(err)
				}
			}
			var l net.Listener
			if err := netnstest.Do(receiver, func() (err error) { l, err = net.Listen("tcp4", ":5001"); return err }); err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			dial := func() (c net.Conn, err error) {
				err = netnstest.Do(sender, func() (err error) { c, err = net.Dial("tcp4", "10.99.2.2:5001"); return err })
				return c, err
			}
			bench(b, dial, l)
		})
	}
}
