package clusternet

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
)

// applyMasquerade replaces our table with one that masquerades traffic from
// the pod range to anywhere outside it (pod egress to nodes, the network
// and beyond), in one batch: add, delete, add again, fill, so that the
// kernel never has it half applied and an earlier instance's table is
// replaced whole. Traffic between pods, on one node or across nodes, keeps
// its addresses.
func applyMasquerade(conn *nftables.Conn, podRange netip.Prefix) error {
	t := &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}
	conn.AddTable(t)
	conn.DelTable(t)
	conn.AddTable(t)
	chain := conn.AddChain(&nftables.Chain{
		Name:     "postrouting",
		Table:    t,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource,
	})
	network := podRange.Masked().Addr().AsSlice()
	mask := []byte(ipNet(podRange).Mask)
	// ip saddr <podRange> ip daddr != <podRange> masquerade fully-random
	exprs := append(matchPrefix(12, mask, network, expr.CmpOpEq), matchPrefix(16, mask, network, expr.CmpOpNeq)...)
	exprs = append(exprs, &expr.Masq{FullyRandom: true})
	conn.AddRule(&nftables.Rule{Table: t, Chain: chain, Exprs: exprs})
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("replacing nftables table ip %s: %w", TableName, err)
	}
	return nil
}

// matchPrefix compares the IPv4 header's address at offset (12: source,
// 16: destination) under mask with network.
func matchPrefix(offset uint32, mask, network []byte, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: network},
	}
}

// enableForwarding sets net.ipv4.ip_forward=1 in the network namespace
// netNS (0: our own). /proc/sys/net shows the namespace of the thread that
// opens it.
func enableForwarding(netNS int) error {
	return inNetNS(netNS, func() error {
		const path = "/proc/sys/net/ipv4/ip_forward"
		if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
			return fmt.Errorf("enabling IPv4 forwarding (%s): %w", path, err)
		}
		return nil
	})
}

// inNetNS runs f on an OS thread in the network namespace fd (0: f runs
// where it is). The thread is thrown away if it cannot be switched back.
func inNetNS(fd int, f func() error) error {
	if fd == 0 {
		return f()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("getting this thread's network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(netns.NsHandle(fd)); err != nil {
			errc <- fmt.Errorf("entering network namespace fd %d: %w", fd, err)
			return
		}
		errc <- f()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		// Otherwise the goroutine ends locked, and Go ends its thread.
	}()
	return <-errc
}
