package hosted

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/grow"
	"metropolis.dev/metropolis/launch/netns"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/ports"
)

// Options say what cluster to launch.
type Options struct {
	// Name names the cluster, its network and its metroctl context.
	Name string
	// Nodes is how many nodes to start (at least 1).
	Nodes int
	// NodeBinary is the metropolis-node program.
	NodeBinary string
	// KubeBinary is the `kube` multicall binary of the Kubernetes control plane; empty: the
	// nodes look for it next to NodeBinary (and run no control plane if it is not there).
	KubeBinary string
	// Dir is the cluster's directory; it must not exist yet.
	Dir string
	// Contexts is metroctl's configuration, where the cluster's context is created and made
	// current.
	Contexts *config.Store
	// Subnet is the nodes' IPv4 network; the zero value picks one from the name, so that
	// clusters of different names do not clash.
	Subnet netip.Prefix
	// Progress receives a line for every step; nil discards them.
	Progress io.Writer
}

// Launch starts a cluster and returns once every node is UP and healthy. On failure it leaves
// what it started in place for inspection (the error says where the logs are); Destroy removes
// it.
func Launch(ctx context.Context, o Options) (*Cluster, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	p := grow.NewProgress(o.Progress, waitUntilTimeout)
	spec := netns.Spec{Name: o.Name, Subnet: o.Subnet, Nodes: o.Nodes}
	if !spec.Subnet.IsValid() {
		spec.Subnet = netns.SubnetFor(o.Name)
	}
	p.Step("creating network for %d nodes", o.Nodes)
	network, err := netns.Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Name: o.Name, Dir: o.Dir, NodeBinary: o.NodeBinary, KubeBinary: o.KubeBinary, Network: network.Spec(), net: network}
	for i := 1; i <= o.Nodes; i++ {
		c.Addresses = append(c.Addresses, network.NodeAddress(i).String())
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := c.save(); err != nil {
		return nil, err
	}
	if err := c.launch(ctx, o, p); err != nil {
		return c, fmt.Errorf("launch cluster %s: %w (node logs: %s)", o.Name, err, filepath.Join(o.Dir, "node*", "console.log"))
	}
	p.Step("cluster %s is up: %d nodes, metroctl context %q is current", o.Name, o.Nodes, o.Name)
	return c, nil
}

func (o *Options) check() error {
	if err := config.ValidateContextName(o.Name); err != nil {
		return fmt.Errorf("cluster name: %w", err)
	}
	if o.Nodes < 1 {
		return fmt.Errorf("nodes: need at least 1, got %d", o.Nodes)
	}
	if _, err := os.Stat(o.NodeBinary); err != nil {
		return fmt.Errorf("node binary: %w", err)
	}
	if o.KubeBinary != "" {
		if _, err := os.Stat(o.KubeBinary); err != nil {
			return fmt.Errorf("kube binary: %w", err)
		}
	}
	if _, err := os.Stat(o.Dir); err == nil {
		return fmt.Errorf("cluster %s already exists (%s); destroy it first", o.Name, o.Dir)
	}
	return grow.CheckContextFree(o.Contexts, o.Name)
}

func (c *Cluster) launch(ctx context.Context, o Options, p *grow.Progress) error {
	_, ownerKey, err := identity.GenerateKey()
	if err != nil {
		return err
	}
	endpoint := net.JoinHostPort(c.Addresses[0], strconv.Itoa(int(ports.Curator)))
	if err := c.writeParameters(1, &apb.NodeParameters{Cluster: &apb.NodeParameters_ClusterBootstrap{
		ClusterBootstrap: &apb.ClusterBootstrap{OwnerPublicKey: ownerKey.Public().(ed25519.PublicKey)},
	}}); err != nil {
		return err
	}
	p.Step("starting node 1 at %s to bootstrap the cluster", c.Addresses[0])
	if err := c.StartNode(1); err != nil {
		return err
	}
	mctx, err := grow.TakeOwnership(ctx, p, o.Contexts, o.Name, endpoint, ownerKey, nil)
	if err != nil {
		return err
	}
	if err := grow.Grow(ctx, mctx, machines{c, p}, 0, p); err != nil {
		return err
	}
	return grow.SetCuratorEndpoints(o.Contexts, o.Name, c.Addresses)
}

func (c *Cluster) writeParameters(i int, params *apb.NodeParameters) error {
	if err := apb.ValidateNodeParameters(params); err != nil {
		return fmt.Errorf("node %d parameters: %w", i, err)
	}
	data, err := proto.Marshal(params)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.nodeDir(i), 0o700); err != nil {
		return err
	}
	return os.WriteFile(c.parametersPath(i), data, 0o600)
}

// waitUntilTimeout bounds every wait of a launch: hosted nodes start in seconds, so two
// minutes means something is wrong.
const waitUntilTimeout = 2 * time.Minute

// machines are the hosted cluster's nodes as grow.Grow starts them.
type machines struct {
	c *Cluster
	p *grow.Progress
}

func (m machines) NodeCount() int { return m.c.Nodes() }

func (m machines) StartToRegister(i int, params *apb.NodeParameters) error {
	if err := m.c.writeParameters(i, params); err != nil {
		return err
	}
	m.p.Step("starting node %d at %s to register", i, m.c.Addresses[i-1])
	return m.c.StartNode(i)
}

// CheckRunning: a hosted node that dies is restarted by nobody, but it also shows as not
// UP; the wait says so.
func (m machines) CheckRunning() error { return nil }
