package clusternet

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

func TestWireGuardMissing(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("adding link: %w", unix.EOPNOTSUPP), true},
		{unix.ENODEV, true},
		{unix.EAFNOSUPPORT, true},
		{unix.EPROTONOSUPPORT, true},
		{unix.EPERM, false},
		{unix.EEXIST, false},
		{nil, false},
	} {
		if got := wireGuardMissing(tc.err); got != tc.want {
			t.Errorf("wireGuardMissing(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestDeviceConfig(t *testing.T) {
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	otherPriv, _ := wgtypes.GeneratePrivateKey()
	ka, kb, kc := testKey(t), testKey(t), testKey(t)
	const port = 51820
	a := Peer{Node: "a", PodCIDR: netip.MustParsePrefix("10.112.1.0/24"), NodeIP: netip.MustParseAddr("192.168.1.11"), PublicKey: ka}
	b := Peer{Node: "b", PodCIDR: netip.MustParsePrefix("10.112.2.0/24"), NodeIP: netip.MustParseAddr("192.168.1.12"), PublicKey: kb}
	bMoved := b
	bMoved.NodeIP = netip.MustParseAddr("192.168.1.99")
	bResubnetted := b
	bResubnetted.PodCIDR = netip.MustParsePrefix("10.112.7.0/24")
	// kernel renders p as the kernel reports a configured peer.
	kernel := func(p Peer) wgtypes.Peer {
		return wgtypes.Peer{
			PublicKey:  p.PublicKey,
			Endpoint:   &net.UDPAddr{IP: net.IP(p.NodeIP.AsSlice()), Port: port},
			AllowedIPs: []net.IPNet{*ipNet(p.PodCIDR)},
		}
	}
	// set is the configuration that sets p.
	set := func(p Peer) wgtypes.PeerConfig {
		k := kernel(p)
		return wgtypes.PeerConfig{PublicKey: p.PublicKey, Endpoint: k.Endpoint, ReplaceAllowedIPs: true, AllowedIPs: k.AllowedIPs}
	}
	configured := &wgtypes.Device{PrivateKey: priv, ListenPort: port, Peers: []wgtypes.Peer{kernel(a), kernel(b)}}
	p := port
	for _, tc := range []struct {
		name        string
		dev         *wgtypes.Device
		peers       []Peer
		want        wgtypes.Config
		wantChanged bool
	}{
		{
			name:        "fresh device",
			dev:         &wgtypes.Device{},
			peers:       []Peer{a, b},
			want:        wgtypes.Config{PrivateKey: &priv, ListenPort: &p, Peers: []wgtypes.PeerConfig{set(a), set(b)}},
			wantChanged: true,
		},
		{name: "up to date", dev: configured, peers: []Peer{a, b}},
		{
			name:        "node gone",
			dev:         configured,
			peers:       []Peer{a},
			want:        wgtypes.Config{Peers: []wgtypes.PeerConfig{{PublicKey: kb, Remove: true}}},
			wantChanged: true,
		},
		{
			name:        "node moved and node added; a untouched",
			dev:         configured,
			peers:       []Peer{a, bMoved, {Node: "c", PodCIDR: netip.MustParsePrefix("10.112.3.0/24"), NodeIP: netip.MustParseAddr("192.168.1.13"), PublicKey: kc}},
			want:        wgtypes.Config{Peers: []wgtypes.PeerConfig{set(bMoved), set(Peer{PodCIDR: netip.MustParsePrefix("10.112.3.0/24"), NodeIP: netip.MustParseAddr("192.168.1.13"), PublicKey: kc})}},
			wantChanged: true,
		},
		{
			name:        "pod subnet changed",
			dev:         configured,
			peers:       []Peer{a, bResubnetted},
			want:        wgtypes.Config{Peers: []wgtypes.PeerConfig{set(bResubnetted)}},
			wantChanged: true,
		},
		{
			name:        "device holds another key (an earlier Service of ours)",
			dev:         &wgtypes.Device{PrivateKey: otherPriv, ListenPort: port, Peers: []wgtypes.Peer{kernel(a)}},
			peers:       []Peer{a},
			want:        wgtypes.Config{PrivateKey: &priv},
			wantChanged: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := deviceConfig(tc.dev, priv, port, tc.peers)
			if changed != tc.wantChanged || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("deviceConfig = %+v, %v\nwant %+v, %v", got, changed, tc.want, tc.wantChanged)
			}
		})
	}
}
