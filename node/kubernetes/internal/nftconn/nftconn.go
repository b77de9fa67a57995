// Package nftconn opens the netlink connections through which the node's
// nf_tables owners (svcproxy, netpol) replace their tables: lasting, in a
// given network namespace, with socket buffers big enough for a whole table
// in one batch.
package nftconn

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Socket buffer sizes for the netlink connection. A whole table goes in
// one sendmsg (about 1.6 KB per service with two endpoints), and the kernel
// queues one acknowledgement per message before we read any; the default
// buffers (~200 KB) overflow at a few hundred services. Memory is only
// used while a batch is in flight.
const (
	sendBuffer    = 64 << 20
	receiveBuffer = 64 << 20
)

// Open opens a lasting nftables connection to the network namespace
// netNS (a file descriptor; 0 for our own) with buffers big enough for
// a table's batch. Close it with CloseLasting.
func Open(netNS int) (*nftables.Conn, error) {
	conn, err := nftables.New(nftables.WithNetNSFd(netNS), nftables.AsLasting(), nftables.WithSockOptions(bigBuffers))
	if err != nil {
		return nil, fmt.Errorf("opening nftables netlink connection: %w", err)
	}
	return conn, nil
}

// bigBuffers sets the socket buffers past net.core.[rw]mem_max (we have
// CAP_NET_ADMIN), falling back to what the limits allow.
func bigBuffers(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var forceErr error
	err = raw.Control(func(fd uintptr) {
		forceErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sendBuffer)
		if forceErr == nil {
			forceErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, receiveBuffer)
		}
	})
	if err != nil {
		return err
	}
	if forceErr == nil {
		return nil
	}
	if err := c.SetWriteBuffer(sendBuffer); err != nil {
		return fmt.Errorf("setting netlink send buffer: %w", err)
	}
	if err := c.SetReadBuffer(receiveBuffer); err != nil {
		return fmt.Errorf("setting netlink receive buffer: %w", err)
	}
	return nil
}

// setElementsPerMessage keeps each element message well under netlink's 64 KiB attribute limit
// (a verdict map element is under 100 bytes, a concatenated range element about 80).
const setElementsPerMessage = 256

// AddSet adds set with elems to conn's batch, spread over as many messages as needed: the
// library cannot split them itself, and one message must stay under 64 KiB.
func AddSet(conn *nftables.Conn, set *nftables.Set, elems []nftables.SetElement) error {
	first := elems[:min(len(elems), setElementsPerMessage)]
	if err := conn.AddSet(set, first); err != nil {
		return err
	}
	for rest := elems[len(first):]; len(rest) > 0; {
		n := min(len(rest), setElementsPerMessage)
		if err := conn.SetAddElements(set, rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}
