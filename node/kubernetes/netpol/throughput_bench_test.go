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
// `go test -run x -bench Throughput ./node/kubernetes/netpol` (root).
func BenchmarkThroughput(b *testing.B) {
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
			go func() {
				c, err := l.Accept()
				if err == nil {
					io.Copy(io.Discard, c)
					c.Close()
				}
			}()
			var c net.Conn
			if err := netnstest.Do(sender, func() (err error) { c, err = net.Dial("tcp4", "10.99.2.2:5001"); return err }); err != nil {
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
}
