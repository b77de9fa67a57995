package netconfig

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/osbase/logtree"
)

// linkPollInterval is how often findLink looks at the links again. Links appear when their
// driver module loads, and carrier comes a little after a link is set up.
const linkPollInterval = 200 * time.Millisecond

// linkReportInterval is how often findLink says what it is still waiting for.
const linkReportInterval = 5 * time.Second

// bringUpLoopback sets lo up, which the kernel leaves down in a new network namespace and on
// a machine whose PID 1 is the node.
func bringUpLoopback() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find loopback link: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set loopback link up: %w", err)
	}
	return nil
}

// isEthernet reports whether l is an Ethernet link a node may use: a NIC's ("device") or one
// end of a veth pair (as hosted nodes and the tests have), not a bridge, VLAN or dummy link
// that someone built on the machine.
func isEthernet(l netlink.Link) bool {
	a := l.Attrs()
	return a.EncapType == "ether" && len(a.HardwareAddr) == 6 && (l.Type() == "device" || l.Type() == "veth")
}

// hasCarrier reports whether l's physical layer is up (IFF_LOWER_UP).
func hasCarrier(l netlink.Link) bool {
	return l.Attrs().RawFlags&unix.IFF_LOWER_UP != 0
}

// findLink waits for the link to configure and returns it, set up: the Ethernet link with
// hardware address hw, or, without hw, the first Ethernet link (lowest index) that has
// carrier. Every Ethernet link seen is set up on the way, since a link that is down never
// reports carrier.
func findLink(ctx context.Context, logger logtree.LeveledLogger, hw net.HardwareAddr) (netlink.Link, error) {
	lastReport := time.Now()
	for {
		links, err := netlink.LinkList()
		if err != nil {
			return nil, fmt.Errorf("list links: %w", err)
		}
		sort.Slice(links, func(i, j int) bool { return links[i].Attrs().Index < links[j].Attrs().Index })
		var seen []string
		for _, l := range links {
			if !isEthernet(l) {
				continue
			}
			a := l.Attrs()
			if a.Flags&net.FlagUp == 0 {
				if err := netlink.LinkSetUp(l); err != nil {
					return nil, fmt.Errorf("set link %s up: %w", a.Name, err)
				}
			}
			if hw != nil {
				if bytes.Equal(a.HardwareAddr, hw) {
					return l, nil
				}
				seen = append(seen, fmt.Sprintf("%s (%s)", a.Name, a.HardwareAddr))
				continue
			}
			if hasCarrier(l) {
				return l, nil
			}
			seen = append(seen, a.Name+" (no carrier)")
		}

		if time.Since(lastReport) >= linkReportInterval {
			lastReport = time.Now()
			want := "an Ethernet link with carrier"
			if hw != nil {
				want = "the Ethernet link with hardware address " + hw.String()
			}
			if len(seen) == 0 {
				seen = append(seen, "none")
			}
			logger.Infof("waiting for %s; Ethernet links seen: %s", want, strings.Join(seen, ", "))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(linkPollInterval):
		}
	}
}
