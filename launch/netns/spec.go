package netns

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
)

const (
	// DefaultSubnet is the subnet of a Spec that names none.
	DefaultSubnet = "10.77.0.0/24"

	// namePrefix starts the name of everything this package creates.
	namePrefix = "mp-"
	// MaxNameLength is the longest network name: "mp-" + name + "-" + a three-digit node index
	// must fit Linux's 15-byte interface names.
	MaxNameLength = 8
	// MaxNodes is the most nodes a network can have, because node numbers have at most three
	// digits in link names. A small subnet allows fewer.
	MaxNodes = 999
)

// Spec describes a network to Create.
type Spec struct {
	// Name identifies the network on the host: 1 to MaxNameLength lowercase ASCII letters and
	// digits.
	Name string
	// Subnet is a private IPv4 subnet (RFC 1918) for the host and the nodes; the zero value
	// means DefaultSubnet. The host gets its first address, node i (counting from 1) the
	// address i after the host's: node 1 has the second address.
	Subnet netip.Prefix
	// Nodes is how many nodes Create makes; AddNode adds more later.
	Nodes int
}

// withDefaults returns s with its zero fields filled in.
func (s Spec) withDefaults() Spec {
	if !s.Subnet.IsValid() {
		s.Subnet = netip.MustParsePrefix(DefaultSubnet)
	}
	return s
}

// validate checks a Spec that had its defaults filled in.
func (s Spec) validate() error {
	if err := validateName(s.Name); err != nil {
		return err
	}
	p := s.Subnet
	if !p.Addr().Is4() {
		return fmt.Errorf("subnet %s: want IPv4", p)
	}
	if p.Masked() != p {
		return fmt.Errorf("subnet %s: has host bits set, want %s", p, p.Masked())
	}
	if !p.Addr().IsPrivate() {
		return fmt.Errorf("subnet %s: not a private (RFC 1918) range", p)
	}
	if p.Bits() > 30 {
		return fmt.Errorf("subnet %s: too small for the host and one node, want /30 or larger", p)
	}
	if s.Nodes < 0 || s.Nodes > maxNodes(p) {
		return fmt.Errorf("nodes: %d, want 0 to %d for subnet %s", s.Nodes, maxNodes(p), p)
	}
	return nil
}

// validateName checks a network name; see Spec.Name.
func validateName(name string) error {
	if name == "" || len(name) > MaxNameLength {
		return fmt.Errorf("network name %q: want 1 to %d characters, so that link names like %s fit Linux's 15-byte limit",
			name, MaxNameLength, linkName(strings.Repeat("x", MaxNameLength), MaxNodes))
	}
	for _, c := range name {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return fmt.Errorf("network name %q: %q is not a lowercase ASCII letter or digit", name, c)
		}
	}
	return nil
}

// maxNodes is how many nodes fit in p besides the host, without its network and broadcast
// addresses, and within MaxNodes.
func maxNodes(p netip.Prefix) int {
	return min(1<<(32-p.Bits())-3, MaxNodes)
}

// bridgeName is the host's bridge of network name.
func bridgeName(name string) string { return namePrefix + name }

// linkName is both the namespace of node i and the host end of its veth pair; they live in
// different name spaces (files and interfaces), so sharing a name is fine and easy to follow.
func linkName(name string, i int) string { return namePrefix + name + "-" + strconv.Itoa(i) }

// isNodeName reports whether s is linkName(name, i) for some i, or such a name and one
// lowercase letter: another link of node i's (a VM's second network card is "mp-NAME-2b").
func isNodeName(name, s string) bool {
	idx, ok := strings.CutPrefix(s, namePrefix+name+"-")
	if !ok || idx == "" {
		return false
	}
	if last := idx[len(idx)-1]; len(idx) > 1 && last >= 'a' && last <= 'z' {
		idx = idx[:len(idx)-1]
	}
	for _, c := range idx {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// hostAddress is the host's address in p: its first.
func hostAddress(p netip.Prefix) netip.Addr { return offset(p, 1) }

// nodeAddress is node i's address in p.
func nodeAddress(p netip.Prefix, i int) netip.Addr { return offset(p, 1+i) }

func offset(p netip.Prefix, n int) netip.Addr {
	b := p.Addr().As4()
	v := binary.BigEndian.Uint32(b[:]) + uint32(n)
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// SubnetFor picks a /24 for the network of the cluster called name, so that clusters of
// different names do not clash. The /24s lie in 10.64.0.0/11, clear of Kubernetes' usual
// service (10.96.0.0/12) and pod (10.244.0.0/16) ranges, which the nodes route themselves.
func SubnetFor(name string) netip.Prefix {
	h := fnv.New32a()
	h.Write([]byte(name))
	v := h.Sum32()
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(64 + v%32), byte(v >> 8), 0}), 24)
}
