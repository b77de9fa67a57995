package clusternet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// wireGuardMissing tells whether err from adding a link of type wireguard
// means the kernel lacks it: rtnetlink answers EOPNOTSUPP for an unknown
// link kind (module absent and not loadable); ENODEV, EAFNOSUPPORT and
// EPROTONOSUPPORT come from kernels and configurations that fail further
// in.
func wireGuardMissing(err error) bool {
	for _, e := range []error{unix.EOPNOTSUPP, unix.ENODEV, unix.EAFNOSUPPORT, unix.EPROTONOSUPPORT} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ensureTunnel returns the WireGuard interface, making it if needed, up
// and with mtu. An error for which wireGuardMissing holds means the
// kernel cannot make one.
func ensureTunnel(h *netlink.Handle, mtu int) (netlink.Link, error) {
	link, err := h.LinkByName(InterfaceName)
	if err == nil && link.Type() != "wireguard" {
		// A stray link of another type under our name: ours to replace.
		if err := h.LinkDel(link); err != nil {
			return nil, fmt.Errorf("removing %s of type %s: %w", InterfaceName, link.Type(), err)
		}
		err = netlink.LinkNotFoundError{}
	}
	if err != nil {
		if !errors.As(err, &netlink.LinkNotFoundError{}) {
			return nil, fmt.Errorf("looking up %s: %w", InterfaceName, err)
		}
		wg := &netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: InterfaceName, MTU: mtu}}
		if err := h.LinkAdd(wg); err != nil {
			return nil, fmt.Errorf("adding link %s of type wireguard: %w", InterfaceName, err)
		}
		if link, err = h.LinkByName(InterfaceName); err != nil {
			return nil, fmt.Errorf("looking up %s after adding it: %w", InterfaceName, err)
		}
	}
	if link.Attrs().MTU != mtu {
		if err := h.LinkSetMTU(link, mtu); err != nil {
			return nil, fmt.Errorf("setting %s MTU to %d: %w", InterfaceName, mtu, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("setting %s up: %w", InterfaceName, err)
	}
	return link, nil
}

// setOnlyAddress makes addr/32 the link's only IPv4 address.
func setOnlyAddress(h *netlink.Handle, link netlink.Link, addr netip.Addr) error {
	have, err := h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing addresses of %s: %w", link.Attrs().Name, err)
	}
	found := false
	for _, a := range have {
		ones, _ := a.Mask.Size()
		if a.IP.Equal(net.IP(addr.AsSlice())) && ones == 32 {
			found = true
			continue
		}
		if err := h.AddrDel(link, &a); err != nil {
			return fmt.Errorf("removing address %v from %s: %w", a.IPNet, link.Attrs().Name, err)
		}
	}
	if found {
		return nil
	}
	a := &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(addr, 32))}
	if err := h.AddrAdd(link, a); err != nil {
		return fmt.Errorf("adding address %v to %s: %w", addr, link.Attrs().Name, err)
	}
	return nil
}

// deviceConfig returns the configuration that brings dev (as the kernel
// reports it) to our key, port and peers, and whether anything differs.
// Peers that are unchanged are left alone, so their sessions survive
// another node's change; peers no longer wanted are removed.
func deviceConfig(dev *wgtypes.Device, key wgtypes.Key, port int, peers []Peer) (wgtypes.Config, bool) {
	var cfg wgtypes.Config
	changed := false
	if dev.PrivateKey != key {
		cfg.PrivateKey = &key
		changed = true
	}
	if dev.ListenPort != port {
		cfg.ListenPort = &port
		changed = true
	}
	have := map[wgtypes.Key]wgtypes.Peer{}
	for _, p := range dev.Peers {
		have[p.PublicKey] = p
	}
	want := map[wgtypes.Key]bool{}
	for _, p := range peers {
		want[p.PublicKey] = true
		endpoint := &net.UDPAddr{IP: net.IP(p.NodeIP.AsSlice()), Port: port}
		allowed := []net.IPNet{*ipNet(p.PodCIDR)}
		if h, ok := have[p.PublicKey]; ok && sameEndpoint(h.Endpoint, endpoint) && sameNets(h.AllowedIPs, allowed) {
			continue
		}
		cfg.Peers = append(cfg.Peers, wgtypes.PeerConfig{
			PublicKey:         p.PublicKey,
			Endpoint:          endpoint,
			ReplaceAllowedIPs: true,
			AllowedIPs:        allowed,
		})
		changed = true
	}
	for _, p := range dev.Peers {
		if !want[p.PublicKey] {
			cfg.Peers = append(cfg.Peers, wgtypes.PeerConfig{PublicKey: p.PublicKey, Remove: true})
			changed = true
		}
	}
	return cfg, changed
}

func sameEndpoint(a, b *net.UDPAddr) bool {
	return a != nil && b != nil && a.IP.Equal(b.IP) && a.Port == b.Port
}

func sameNets(a, b []net.IPNet) bool {
	key := func(ns []net.IPNet) []string {
		var s []string
		for _, n := range ns {
			s = append(s, n.String())
		}
		slices.Sort(s)
		return s
	}
	return slices.Equal(key(a), key(b))
}

// configureTunnel brings the kernel's WireGuard device to key, port and
// peers. wg is a wgctrl client opened in the right network namespace.
func configureTunnel(wg *wgctrl.Client, key wgtypes.Key, port int, peers []Peer) error {
	dev, err := wg.Device(InterfaceName)
	if err != nil {
		return fmt.Errorf("reading WireGuard device %s: %w", InterfaceName, err)
	}
	cfg, changed := deviceConfig(dev, key, port, peers)
	if !changed {
		return nil
	}
	if err := wg.ConfigureDevice(InterfaceName, cfg); err != nil {
		return fmt.Errorf("configuring WireGuard device %s (%d peer changes): %w", InterfaceName, len(cfg.Peers), err)
	}
	return nil
}
