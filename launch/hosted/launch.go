package hosted

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/netns"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
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

// consensusMembers is how many nodes get ConsensusMember: three tolerate the loss of one.
const consensusMembers = 3

// Launch starts a cluster and returns once every node is UP and healthy. On failure it leaves
// what it started in place for inspection (the error says where the logs are); Destroy removes
// it.
func Launch(ctx context.Context, o Options) (*Cluster, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	p := newProgress(o.Progress)
	spec := netns.Spec{Name: o.Name, Subnet: o.Subnet, Nodes: o.Nodes}
	if !spec.Subnet.IsValid() {
		spec.Subnet = netns.SubnetFor(o.Name)
	}
	p.step("creating network for %d nodes", o.Nodes)
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
	p.step("cluster %s is up: %d nodes, metroctl context %q is current", o.Name, o.Nodes, o.Name)
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
	if o.Contexts == nil {
		return errors.New("no metroctl configuration given")
	}
	names, err := o.Contexts.ContextNames()
	if err != nil {
		return err
	}
	if slices.Contains(names, o.Name) {
		return fmt.Errorf("metroctl already has a context %q; delete it (metroctl config delete-context %s) or choose another --name", o.Name, o.Name)
	}
	return nil
}

func (c *Cluster) launch(ctx context.Context, o Options, p *progress) error {
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
	p.step("starting node 1 at %s to bootstrap the cluster", c.Addresses[0])
	if err := c.StartNode(1); err != nil {
		return err
	}
	ca, err := waitForValue(ctx, p, "node 1 to serve the curator API", func(ctx context.Context) (*connect.CAOffer, error) {
		return connect.FetchCA(ctx, []string{endpoint})
	})
	if err != nil {
		return err
	}
	p.step("cluster CA %s", pki.Fingerprint(ca.CA))
	if err := o.Contexts.CreateContext(o.Name, ownerKey, []string{endpoint}); err != nil {
		return err
	}
	if err := o.Contexts.SetCA(o.Name, ca.CA); err != nil {
		return err
	}
	mctx, err := o.Contexts.LoadContext(o.Name)
	if err != nil {
		return err
	}
	ownerCert, err := connect.EscrowOwnerCertificate(ctx, mctx)
	if err != nil {
		return fmt.Errorf("take ownership: %w", err)
	}
	if err := o.Contexts.SetOwnerCertificate(o.Name, ownerCert); err != nil {
		return err
	}
	if err := o.Contexts.UseContext(o.Name); err != nil {
		return err
	}
	p.step("took ownership; metroctl context %q", o.Name)
	if mctx, err = o.Contexts.LoadContext(o.Name); err != nil {
		return err
	}
	return c.growCluster(ctx, mctx, p)
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

// progress prints timestamped steps, and keeps printing while a step waits, so that nobody
// stares at a silent terminal.
type progress struct {
	out   io.Writer
	start time.Time
}

func newProgress(out io.Writer) *progress {
	if out == nil {
		out = io.Discard
	}
	return &progress{out: out, start: time.Now()}
}

func (p *progress) step(format string, args ...any) {
	fmt.Fprintf(p.out, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// waitUntilTimeout bounds every wait of a launch: hosted nodes start in seconds, so a minute
// means something is wrong.
const waitUntilTimeout = 2 * time.Minute

// permanent wraps an error that waiting will not cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }

// waitForValue calls try until it succeeds, saying every few seconds what it waits for and the
// last error, until waitUntilTimeout.
func waitForValue[T any](ctx context.Context, p *progress, what string, try func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, waitUntilTimeout)
	defer cancel()
	p.step("waiting for %s", what)
	lastSaid := time.Now()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		v, err := try(attempt)
		cancelAttempt()
		if err == nil {
			return v, nil
		}
		var stop permanent
		if errors.As(err, &stop) {
			var zero T
			return zero, stop.err
		}
		if time.Since(lastSaid) > 3*time.Second {
			p.step("still waiting for %s: %v", what, err)
			lastSaid = time.Now()
		}
		select {
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("gave up waiting for %s: %w", what, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
