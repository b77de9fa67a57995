package clusternet

import (
	"fmt"
	"net/netip"
	"sort"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	corev1 "k8s.io/api/core/v1"
)

// Peer is another node whose pods this node routes to.
type Peer struct {
	Node    string
	PodCIDR netip.Prefix
	NodeIP  netip.Addr
	// PublicKey is the node's published WireGuard key; zero unless keys
	// were asked for.
	PublicKey wgtypes.Key
}

// Skipped is a node that DesiredPeers left out, and why.
type Skipped struct {
	Node   string
	Reason string
}

// NodePodCIDR returns the IPv4 pod subnet the controller-manager gave node
// (spec.podCIDRs, or the older spec.podCIDR). IPv6 subnets are ignored: the
// pod network is IPv4 only.
func NodePodCIDR(node *corev1.Node) (netip.Prefix, error) {
	cidrs := node.Spec.PodCIDRs
	if len(cidrs) == 0 && node.Spec.PodCIDR != "" {
		cidrs = []string{node.Spec.PodCIDR}
	}
	if len(cidrs) == 0 {
		return netip.Prefix{}, fmt.Errorf("node %q has no spec.podCIDR yet", node.Name)
	}
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("node %q: spec.podCIDRs entry %q: %w", node.Name, c, err)
		}
		if p.Addr().Is4() {
			if p != p.Masked() {
				return netip.Prefix{}, fmt.Errorf("node %q: spec.podCIDRs entry %q has host bits set", node.Name, c)
			}
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("node %q has no IPv4 entry in spec.podCIDRs %v", node.Name, cidrs)
}

// nodeInternalIP returns node's first IPv4 InternalIP (the kubelet's
// --node-ip).
func nodeInternalIP(node *corev1.Node) (netip.Addr, bool) {
	for _, a := range node.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err == nil && ip.Is4() {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// DesiredPeers returns the nodes this node routes pod traffic to, sorted by
// name, and the nodes it leaves out with the reason. self is this node's
// name and own its pod subnet; podRange is the cluster's pod range, which
// every peer's subnet must lie in (a Node cannot steer other traffic into
// the tunnel or to itself). With needKey, nodes without a valid published
// WireGuard key are left out. Later nodes (by name) that claim a subnet or
// key already taken are left out too.
func DesiredPeers(nodes []*corev1.Node, self string, own, podRange netip.Prefix, needKey bool) ([]Peer, []Skipped) {
	sorted := append([]*corev1.Node(nil), nodes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var peers []Peer
	var skipped []Skipped
	keys := map[wgtypes.Key]string{}
	for _, n := range sorted {
		if n.Name == self {
			continue
		}
		p, reason := peerOf(n, own, podRange, needKey)
		if reason == "" {
			for _, q := range peers {
				if q.PodCIDR.Overlaps(p.PodCIDR) {
					reason = fmt.Sprintf("pod subnet %v overlaps node %q's %v", p.PodCIDR, q.Node, q.PodCIDR)
					break
				}
			}
		}
		if reason == "" && needKey {
			if other, dup := keys[p.PublicKey]; dup {
				reason = fmt.Sprintf("WireGuard key is also node %q's", other)
			}
		}
		if reason != "" {
			skipped = append(skipped, Skipped{Node: n.Name, Reason: reason})
			continue
		}
		if needKey {
			keys[p.PublicKey] = n.Name
		}
		peers = append(peers, p)
	}
	return peers, skipped
}

// peerOf checks one other node; a non-empty reason says why it is no peer.
func peerOf(n *corev1.Node, own, podRange netip.Prefix, needKey bool) (Peer, string) {
	cidr, err := NodePodCIDR(n)
	if err != nil {
		return Peer{}, err.Error()
	}
	if !podRange.Contains(cidr.Addr()) || cidr.Bits() < podRange.Bits() {
		return Peer{}, fmt.Sprintf("pod subnet %v is outside the pod range %v", cidr, podRange)
	}
	if own.IsValid() && cidr.Overlaps(own) {
		return Peer{}, fmt.Sprintf("pod subnet %v overlaps this node's %v", cidr, own)
	}
	ip, ok := nodeInternalIP(n)
	if !ok {
		return Peer{}, "no IPv4 InternalIP in status.addresses"
	}
	if podRange.Contains(ip) {
		return Peer{}, fmt.Sprintf("InternalIP %v is inside the pod range %v", ip, podRange)
	}
	p := Peer{Node: n.Name, PodCIDR: cidr, NodeIP: ip}
	if needKey {
		s, ok := n.Annotations[AnnotationWireGuardKey]
		if !ok {
			return Peer{}, "no WireGuard key published yet (annotation " + AnnotationWireGuardKey + ")"
		}
		k, err := wgtypes.ParseKey(s)
		if err != nil || k == (wgtypes.Key{}) {
			return Peer{}, fmt.Sprintf("annotation %s %q is not a WireGuard key", AnnotationWireGuardKey, s)
		}
		p.PublicKey = k
	}
	return p, ""
}
