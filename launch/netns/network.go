package netns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

// Network is a created network. Its methods are safe for concurrent use.
type Network struct {
	name   string
	subnet netip.Prefix

	// mu serialises AddNode, and guards nodes.
	mu sync.Mutex
	// nodes is how many nodes there are, numbered 1 to nodes.
	nodes int
}

// Node is one node's place in a Network.
type Node struct {
	// Index is the node's number, counting from 1 as people do ("node 1").
	Index int
	// Namespace names the node's network namespace under /run/netns.
	Namespace string
	// Address is the node's IPv4 address, on its eth0.
	Address netip.Addr
	// HostLink is the host end of the node's veth pair, attached to the bridge.
	HostLink string
}

// Create builds the network spec describes: the bridge with the host's address, then spec.Nodes
// nodes. It refuses a name that is still in use, including by leftovers of a crashed run (remove
// those with DestroyByName), and a subnet that overlaps an address the host already has. On
// error nothing of the network is left behind.
func Create(ctx context.Context, spec Spec) (*Network, error) {
	spec = spec.withDefaults()
	if err := spec.validate(); err != nil {
		return nil, fmt.Errorf("create network: %w", err)
	}
	if err := checkNameUnused(spec.Name); err != nil {
		return nil, fmt.Errorf("create network %s: %w", spec.Name, err)
	}
	if err := checkSubnetFree(spec.Subnet); err != nil {
		return nil, fmt.Errorf("create network %s: %w", spec.Name, err)
	}
	n := &Network{name: spec.Name, subnet: spec.Subnet}
	err := createBridge(bridgeName(n.name), n.HostPrefix())
	for i := 0; err == nil && i < spec.Nodes; i++ {
		_, err = n.AddNode(ctx)
	}
	if err != nil {
		// The name was unused, so everything under it is from this call.
		if cerr := DestroyByName(n.name); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
		}
		return nil, fmt.Errorf("create network %s: %w", spec.Name, err)
	}
	return n, nil
}

// checkNameUnused fails if anything named after network name exists.
func checkNameUnused(name string) error {
	links, err := listLinks(name)
	if err != nil {
		return err
	}
	namespaces, err := listNamespaces(name)
	if err != nil {
		return err
	}
	var left []string
	for _, l := range links {
		left = append(left, "link "+l)
	}
	for _, ns := range namespaces {
		left = append(left, "namespace "+ns)
	}
	if len(left) > 0 {
		return fmt.Errorf("name in use by %s (remove leftovers with DestroyByName)", strings.Join(left, ", "))
	}
	return nil
}

// AddNode adds the next node: a namespace, its veth pair on the bridge, its address, and its
// default route through the host. A node that cannot be set up completely is removed again.
func (n *Network) AddNode(ctx context.Context) (Node, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return Node{}, err
	}
	i := n.nodes + 1
	if i > maxNodes(n.subnet) {
		return Node{}, fmt.Errorf("add node to network %s: subnet %s is full with %d nodes", n.name, n.subnet, n.nodes)
	}
	node := n.node(i)
	if err := createNode(bridgeName(n.name), node, n.subnet.Bits(), hostAddress(n.subnet)); err != nil {
		err = fmt.Errorf("add node %d to network %s: %w", i, n.name, err)
		if cerr := removeNode(node); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
		}
		return Node{}, err
	}
	n.nodes++
	return node, nil
}

// Name is the network's name.
func (n *Network) Name() string { return n.name }

// Subnet is the network's subnet.
func (n *Network) Subnet() netip.Prefix { return n.subnet }

// Bridge is the name of the network's bridge on the host.
func (n *Network) Bridge() string { return bridgeName(n.name) }

// HostAddress is the host's address on the bridge, the nodes' gateway.
func (n *Network) HostAddress() netip.Addr { return hostAddress(n.subnet) }

// HostPrefix is the host's address with the subnet's length, as configured on the bridge.
func (n *Network) HostPrefix() netip.Prefix {
	return netip.PrefixFrom(n.HostAddress(), n.subnet.Bits())
}

// Spec returns the network as a Spec (with the subnet it uses and the nodes it has), from
// which Attach finds it again.
func (n *Network) Spec() Spec {
	n.mu.Lock()
	defer n.mu.Unlock()
	return Spec{Name: n.name, Subnet: n.subnet, Nodes: n.nodes}
}

// Nodes returns every node, node 1 first.
func (n *Network) Nodes() []Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]Node, n.nodes)
	for i := range out {
		out[i] = n.node(i + 1)
	}
	return out
}

// Node returns node i (counting from 1), or an error if the network has no such node.
func (n *Network) Node(i int) (Node, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if i < 1 || i > n.nodes {
		return Node{}, fmt.Errorf("network %s: no node %d (it has nodes 1 to %d)", n.name, i, n.nodes)
	}
	return n.node(i), nil
}

// NodeAddress is the address node i has, or will have once added; the zero Addr if the subnet
// has no room for node i.
func (n *Network) NodeAddress(i int) netip.Addr {
	if i < 1 || i > maxNodes(n.subnet) {
		return netip.Addr{}
	}
	return nodeAddress(n.subnet, i)
}

func (n *Network) node(i int) Node {
	return Node{Index: i, Namespace: linkName(n.name, i), Address: nodeAddress(n.subnet, i), HostLink: linkName(n.name, i)}
}

// InNode runs fn with its goroutine's OS thread in node i's namespace. Sockets fn creates
// (a listener, a connection) belong to that namespace for their whole life and may be used from
// any goroutine afterwards; goroutines fn starts do not run in the namespace.
func (n *Network) InNode(i int, fn func() error) error {
	node, err := n.Node(i)
	if err != nil {
		return err
	}
	return inNamespace(node.Namespace, fn)
}

// Destroy removes the network from the host; see DestroyByName.
func (n *Network) Destroy() error { return DestroyByName(n.name) }
