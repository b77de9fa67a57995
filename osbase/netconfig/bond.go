package netconfig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"metropolis.dev/metropolis/osbase/ipconfig"
	"metropolis.dev/metropolis/osbase/logtree"
)

// bondMemberPatience is how long makeBond waits for every card of the bond before it makes the
// bond with those it found: a card that is broken or gone must not keep the node off its
// network, which the others can carry.
const bondMemberPatience = 30 * time.Second

// cardAddress is l's own hardware address: its permanent one, which a bond's member keeps
// while the bond gives it the bond's (from the link, or from its membership of the bond), else
// its current one (a veth has no permanent one).
func cardAddress(l netlink.Link) net.HardwareAddr {
	a := l.Attrs()
	if usable(a.PermHWAddr) {
		return a.PermHWAddr
	}
	if s, ok := a.Slave.(*netlink.BondSlave); ok && usable(s.PermHardwareAddr) {
		return s.PermHardwareAddr
	}
	return a.HardwareAddr
}

func usable(hw net.HardwareAddr) bool { return len(hw) == 6 && !bytes.Equal(hw, make([]byte, 6)) }

// matchMembers finds b's cards among links, in b's order, and says which are missing.
func matchMembers(b ipconfig.Bond, links []netlink.Link) (found []netlink.Link, missing []net.HardwareAddr) {
	for _, m := range b.Members {
		var card netlink.Link
		for _, l := range links {
			if isEthernet(l) && bytes.Equal(cardAddress(l), m) {
				card = l
				break
			}
		}
		if card == nil {
			missing = append(missing, m)
			continue
		}
		found = append(found, card)
	}
	return found, missing
}

// findMembers waits for the cards of b: until all are there, or, after bondMemberPatience,
// until at least one is. It returns those found and the addresses of those missing.
func findMembers(ctx context.Context, logger logtree.LeveledLogger, b ipconfig.Bond) ([]netlink.Link, []net.HardwareAddr, error) {
	start, lastReport := time.Now(), time.Now()
	for {
		links, err := netlink.LinkList()
		if err != nil {
			return nil, nil, fmt.Errorf("list links: %w", err)
		}
		found, missing := matchMembers(b, links)
		if len(missing) == 0 || (len(found) > 0 && time.Since(start) >= bondMemberPatience) {
			return found, missing, nil
		}
		if time.Since(lastReport) >= linkReportInterval {
			lastReport = time.Now()
			logger.Infof("waiting for the cards of bond %s: %s not found yet", ipconfig.BondName, joinAddresses(missing))
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(linkPollInterval):
		}
	}
}

// bondMatches says whether the link l there already is the bond b asks for, with hw (its
// first card's) as its hardware address.
func bondMatches(l netlink.Link, b ipconfig.Bond, hw net.HardwareAddr) bool {
	bond, ok := l.(*netlink.Bond)
	return ok && bond.Mode == netlink.StringToBondMode(b.Mode) && bond.Miimon == b.MIIIntervalMS &&
		bytes.Equal(bond.HardwareAddr, hw)
}

// makeBond makes the uplink the bond b: it takes the bond link there if it is that bond, or
// makes it anew (the kernel makes an unconfigured bond0 when its bonding module loads), makes
// the cards found its members and the cards it had that b no longer names free, and sets it up.
// It returns the bond, and what it could not do (cards missing or refused), for the status.
func makeBond(ctx context.Context, logger logtree.LeveledLogger, b ipconfig.Bond) (netlink.Link, []string, error) {
	cards, missing, err := findMembers(ctx, logger, b)
	if err != nil {
		return nil, nil, err
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("bond %s: no network card with hardware address %s; it goes on without", ipconfig.BondName, joinAddresses(missing)))
	}
	hw := b.Members[0]
	if len(missing) > 0 && bytes.Equal(missing[0], hw) {
		hw = cardAddress(cards[0])
	}
	bond, err := netlink.LinkByName(ipconfig.BondName)
	if err == nil && !bondMatches(bond, b, hw) {
		logger.Infof("replacing the %s link %s with the bond the configuration asks for", bond.Type(), ipconfig.BondName)
		if err := netlink.LinkDel(bond); err != nil {
			return nil, nil, fmt.Errorf("bond %s: remove the link there: %w", ipconfig.BondName, err)
		}
		bond = nil
	} else if err != nil {
		bond = nil
	}
	if bond == nil {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = ipconfig.BondName
		attrs.HardwareAddr = hw
		nb := netlink.NewLinkBond(attrs)
		nb.Mode = netlink.StringToBondMode(b.Mode)
		nb.Miimon = b.MIIIntervalMS
		if err := netlink.LinkAdd(nb); err != nil {
			return nil, nil, fmt.Errorf("make bond %s (%s): %w", ipconfig.BondName, b.Mode, err)
		}
		if bond, err = netlink.LinkByName(ipconfig.BondName); err != nil {
			return nil, nil, fmt.Errorf("bond %s: made, but not found: %w", ipconfig.BondName, err)
		}
		logger.Infof("made bond %s (%s, links checked every %d ms)", ipconfig.BondName, b.Mode, b.MIIIntervalMS)
	}
	// Cards of the bond's that are no longer wanted go free first.
	links, err := netlink.LinkList()
	if err != nil {
		return nil, nil, fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if l.Attrs().MasterIndex == bond.Attrs().Index && !b.Has(cardAddress(l)) {
			if err := netlink.LinkSetNoMaster(l); err != nil {
				problems = append(problems, fmt.Sprintf("bond %s: free %s: %v", ipconfig.BondName, l.Attrs().Name, err))
			}
		}
	}
	for _, card := range cards {
		if card.Attrs().MasterIndex == bond.Attrs().Index {
			continue
		}
		if err := enslave(card, bond); err != nil {
			problems = append(problems, fmt.Sprintf("bond %s: %v", ipconfig.BondName, err))
			continue
		}
		logger.Infof("bond %s: %s (%s) is a member", ipconfig.BondName, card.Attrs().Name, cardAddress(card))
	}
	if err := netlink.LinkSetUp(bond); err != nil {
		return nil, nil, fmt.Errorf("set bond %s up: %w", ipconfig.BondName, err)
	}
	return bond, problems, nil
}

// enslave makes card a member of bond. The card's own addresses go first (it may have been the
// uplink), or they would stay reachable beside the bond's; the kernel takes only a card that is
// down, and sets it up again as the bond's.
func enslave(card, bond netlink.Link) error {
	name := card.Attrs().Name
	addrs, err := netlink.AddrList(card, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list the addresses of %s: %w", name, err)
	}
	for _, a := range addrs {
		if a.IP.IsLinkLocalUnicast() {
			continue
		}
		if err := netlink.AddrDel(card, &a); err != nil {
			return fmt.Errorf("remove address %s from %s: %w", a.IPNet, name, err)
		}
	}
	if err := netlink.LinkSetDown(card); err != nil {
		return fmt.Errorf("set %s down: %w", name, err)
	}
	if err := netlink.LinkSetMasterByIndex(card, bond.Attrs().Index); err != nil {
		// Up again, so that the card is at least not lost.
		_ = netlink.LinkSetUp(card)
		return fmt.Errorf("make %s a member: %w", name, err)
	}
	return nil
}

// releaseBond removes the bond link, freeing its cards, when the intent has none: a bond of an
// earlier intent, or the unconfigured one the kernel made with its module.
func releaseBond(logger logtree.LeveledLogger) error {
	l, err := netlink.LinkByName(ipconfig.BondName)
	if err != nil {
		if errors.As(err, new(netlink.LinkNotFoundError)) {
			return nil
		}
		return fmt.Errorf("find %s: %w", ipconfig.BondName, err)
	}
	if _, ok := l.(*netlink.Bond); !ok {
		return nil
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("remove bond %s: %w", ipconfig.BondName, err)
	}
	logger.Infof("removed bond %s: the configuration has none", ipconfig.BondName)
	return nil
}

func joinAddresses(hws []net.HardwareAddr) string {
	s := make([]string, len(hws))
	for i, hw := range hws {
		s[i] = hw.String()
	}
	return strings.Join(s, ", ")
}
