package clusternet

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	testRange = netip.MustParsePrefix("10.112.0.0/12")
	testOwn   = netip.MustParsePrefix("10.112.0.0/24")
)

// testNode makes a Node; empty arguments leave the field out.
func testNode(name, podCIDR, internalIP, key string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if podCIDR != "" {
		n.Spec.PodCIDR = podCIDR
		n.Spec.PodCIDRs = []string{podCIDR}
	}
	if internalIP != "" {
		n.Status.Addresses = []corev1.NodeAddress{
			{Type: corev1.NodeHostName, Address: name},
			{Type: corev1.NodeInternalIP, Address: internalIP},
		}
	}
	if key != "" {
		n.Annotations = map[string]string{AnnotationWireGuardKey: key}
	}
	return n
}

func testKey(t testing.TB) wgtypes.Key {
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey()
}

func TestNodePodCIDR(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    corev1.NodeSpec
		want    string
		wantErr string
	}{
		{name: "podCIDRs", spec: corev1.NodeSpec{PodCIDR: "10.112.4.0/24", PodCIDRs: []string{"10.112.4.0/24"}}, want: "10.112.4.0/24"},
		{name: "old field only", spec: corev1.NodeSpec{PodCIDR: "10.112.5.0/24"}, want: "10.112.5.0/24"},
		{name: "dual stack, IPv6 first", spec: corev1.NodeSpec{PodCIDRs: []string{"fd00:1::/64", "10.112.6.0/24"}}, want: "10.112.6.0/24"},
		{name: "none yet", wantErr: "no spec.podCIDR yet"},
		{name: "IPv6 only", spec: corev1.NodeSpec{PodCIDRs: []string{"fd00:1::/64"}}, wantErr: "no IPv4 entry"},
		{name: "garbage", spec: corev1.NodeSpec{PodCIDRs: []string{"10.112.7.0"}}, wantErr: `"10.112.7.0"`},
		{name: "host bits", spec: corev1.NodeSpec{PodCIDRs: []string{"10.112.7.1/24"}}, wantErr: "host bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NodePodCIDR(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: tc.spec})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NodePodCIDR = %v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("NodePodCIDR = %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestDesiredPeers(t *testing.T) {
	k1, k2 := testKey(t), testKey(t)
	ipv6Only := testNode("v6", "10.112.9.0/24", "", "")
	ipv6Only.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "fd00::9"}}
	externalOnly := testNode("ext", "10.112.10.0/24", "", "")
	externalOnly.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeExternalIP, Address: "192.0.2.10"}}
	peer := func(name, cidr, ip string, key wgtypes.Key) Peer {
		return Peer{Node: name, PodCIDR: netip.MustParsePrefix(cidr), NodeIP: netip.MustParseAddr(ip), PublicKey: key}
	}
	for _, tc := range []struct {
		name        string
		nodes       []*corev1.Node
		needKey     bool
		want        []Peer
		wantSkipped map[string]string // node → part of the reason
	}{
		{
			name: "self skipped, others sorted",
			nodes: []*corev1.Node{
				testNode("c", "10.112.3.0/24", "192.168.1.13", ""),
				testNode("self", "10.112.0.0/24", "192.168.1.10", ""),
				testNode("a", "10.112.1.0/24", "192.168.1.11", ""),
			},
			want: []Peer{peer("a", "10.112.1.0/24", "192.168.1.11", wgtypes.Key{}), peer("c", "10.112.3.0/24", "192.168.1.13", wgtypes.Key{})},
		},
		{
			name: "incomplete nodes skipped",
			nodes: []*corev1.Node{
				testNode("nocidr", "", "192.168.1.11", ""),
				testNode("noip", "10.112.2.0/24", "", ""),
				ipv6Only, externalOnly,
				testNode("ok", "10.112.4.0/24", "192.168.1.14", ""),
			},
			want: []Peer{peer("ok", "10.112.4.0/24", "192.168.1.14", wgtypes.Key{})},
			wantSkipped: map[string]string{
				"nocidr": "no spec.podCIDR", "noip": "no IPv4 InternalIP",
				"v6": "no IPv4 InternalIP", "ext": "no IPv4 InternalIP",
			},
		},
		{
			name: "subnets that are not a node's to claim",
			nodes: []*corev1.Node{
				testNode("outside", "10.200.0.0/24", "192.168.1.11", ""),
				testNode("wide", "10.0.0.0/8", "192.168.1.12", ""),
				testNode("mine", "10.112.0.128/25", "192.168.1.13", ""),
				testNode("first", "10.112.5.0/24", "192.168.1.14", ""),
				testNode("second", "10.112.5.0/24", "192.168.1.15", ""),
				testNode("podip", "10.112.6.0/24", "10.112.6.1", ""),
			},
			want: []Peer{peer("first", "10.112.5.0/24", "192.168.1.14", wgtypes.Key{})},
			wantSkipped: map[string]string{
				"outside": "outside the pod range", "wide": "outside the pod range",
				"mine": "overlaps this node's", "second": `overlaps node "first"`,
				"podip": "inside the pod range",
			},
		},
		{
			name:    "keys needed",
			needKey: true,
			nodes: []*corev1.Node{
				testNode("a", "10.112.1.0/24", "192.168.1.11", k1.String()),
				testNode("b", "10.112.2.0/24", "192.168.1.12", ""),
				testNode("c", "10.112.3.0/24", "192.168.1.13", "not-a-key"),
				testNode("d", "10.112.4.0/24", "192.168.1.14", wgtypes.Key{}.String()),
				testNode("e", "10.112.5.0/24", "192.168.1.15", k1.String()),
				testNode("f", "10.112.6.0/24", "192.168.1.16", k2.String()),
			},
			want: []Peer{peer("a", "10.112.1.0/24", "192.168.1.11", k1), peer("f", "10.112.6.0/24", "192.168.1.16", k2)},
			wantSkipped: map[string]string{
				"b": "no WireGuard key", "c": "is not a WireGuard key", "d": "is not a WireGuard key",
				"e": `also node "a"'s`,
			},
		},
		{
			name:  "keys ignored without WireGuard",
			nodes: []*corev1.Node{testNode("c", "10.112.3.0/24", "192.168.1.13", "not-a-key")},
			want:  []Peer{peer("c", "10.112.3.0/24", "192.168.1.13", wgtypes.Key{})},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, skipped := DesiredPeers(tc.nodes, "self", testOwn, testRange, tc.needKey)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("peers = %+v\nwant %+v", got, tc.want)
			}
			if len(skipped) != len(tc.wantSkipped) {
				t.Errorf("skipped = %+v, want %d: %v", skipped, len(tc.wantSkipped), tc.wantSkipped)
			}
			for _, s := range skipped {
				if want, ok := tc.wantSkipped[s.Node]; !ok || !strings.Contains(s.Reason, want) {
					t.Errorf("node %q skipped for %q, want a reason containing %q", s.Node, s.Reason, want)
				}
			}
		})
	}
}

// FuzzDesiredPeers feeds Node fields as the API could hold them (they are
// written by nodes and the controller-manager) and checks that every peer
// is a safe route: inside the pod range, clear of this node and of every
// other peer, with a node address outside the pod range.
func FuzzDesiredPeers(f *testing.F) {
	f.Add("10.112.1.0/24", "192.168.1.11", "", "10.112.1.0/24", "192.168.1.12", false)
	f.Add("10.112.0.0/12", "10.112.0.5", "x", "0.0.0.0/0", "::1", true)
	f.Add("fd00::/64", "fd00::1", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "10.112.2.0/23", "192.168.1.12", true)
	f.Fuzz(func(t *testing.T, cidr1, ip1, key1, cidr2, ip2 string, needKey bool) {
		nodes := []*corev1.Node{testNode("n1", cidr1, ip1, key1), testNode("n2", cidr2, ip2, key1)}
		peers, skipped := DesiredPeers(nodes, "self", testOwn, testRange, needKey)
		if len(peers)+len(skipped) != len(nodes) {
			t.Fatalf("%d peers + %d skipped for %d nodes", len(peers), len(skipped), len(nodes))
		}
		for i, p := range peers {
			if !testRange.Contains(p.PodCIDR.Addr()) || p.PodCIDR.Bits() < testRange.Bits() || p.PodCIDR.Overlaps(testOwn) {
				t.Errorf("peer %q has pod subnet %v", p.Node, p.PodCIDR)
			}
			if !p.NodeIP.Is4() || testRange.Contains(p.NodeIP) {
				t.Errorf("peer %q has node address %v", p.Node, p.NodeIP)
			}
			if needKey && p.PublicKey == (wgtypes.Key{}) {
				t.Errorf("peer %q has no key", p.Node)
			}
			for _, q := range peers[:i] {
				if q.PodCIDR.Overlaps(p.PodCIDR) {
					t.Errorf("peers %q and %q overlap", q.Node, p.Node)
				}
			}
		}
	})
}
