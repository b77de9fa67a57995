package clusterbench

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"google.golang.org/grpc"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/hosted"
	"metropolis.dev/metropolis/launch/netns"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/rpc"
)

// LaunchOptions say which hosted cluster a benchmark runs against.
type LaunchOptions struct {
	// Name names the cluster, its network and its metroctl context (see hosted.Options).
	Name string
	// Nodes is how many nodes to start.
	Nodes int
	// NodeBinary is the metropolis-node program.
	NodeBinary string
	// KubeBinary is the kube binary controllers run Kubernetes with (hosted.Options); empty:
	// the one next to NodeBinary, if any.
	KubeBinary string
	// ConfigDir is the metroctl configuration directory the cluster's context goes into. The
	// cluster itself goes where `metroctl cluster launch` puts it (ConfigDir/clusters/Name),
	// so that `METROCTL_CONFIG_DIR=ConfigDir metroctl cluster destroy --name Name` removes what
	// a benchmark that was killed outright left behind.
	ConfigDir string
	// Progress receives the launcher's steps; nil discards them.
	Progress io.Writer
}

// Cluster is a running hosted cluster under benchmark, with its owner's connection to the
// curator leader. Close destroys it.
type Cluster struct {
	Hosted *hosted.Cluster
	// LaunchTime is how long hosted.Launch took: from the call until every node was UP and
	// healthy and the first three were consensus members running a curator, which is when
	// `metroctl cluster launch` returns.
	LaunchTime time.Duration
	// Management is the owner's Management client. It follows the curator leader and retries
	// refused unary calls until their context ends: give every call a deadline.
	Management apb.ManagementClient

	owner    *config.Context
	store    *config.Store
	mgmtConn *grpc.ClientConn
}

// Launch starts a cluster and connects to it as its owner. On failure it destroys whatever it
// started, after saving the nodes' logs in ConfigDir/logs.
func Launch(ctx context.Context, o LaunchOptions) (*Cluster, error) {
	store := config.NewStore(o.ConfigDir)
	start := time.Now()
	hc, err := hosted.Launch(ctx, hosted.Options{
		Name: o.Name, Nodes: o.Nodes, NodeBinary: o.NodeBinary, KubeBinary: o.KubeBinary,
		Dir:      filepath.Join(o.ConfigDir, "clusters", o.Name),
		Contexts: store, Progress: o.Progress,
	})
	elapsed := time.Since(start)
	c := &Cluster{Hosted: hc, LaunchTime: elapsed, store: store}
	if err != nil {
		err = fmt.Errorf("launch %d-node cluster %s: %w", o.Nodes, o.Name, err)
		if hc != nil {
			err = errors.Join(err, c.SaveLogs(filepath.Join(o.ConfigDir, "logs")))
		}
		return nil, errors.Join(err, c.Close())
	}
	if c.owner, err = store.LoadContext(o.Name); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	// A connection that follows the leader and retries calls it refused: a leader change
	// right after launch (as consensus membership settles) is no reason to fail a benchmark.
	ownerCert, err := c.owner.OwnerTLSCertificate()
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	if c.mgmtConn, err = rpc.DialCurator(c.endpoints(), c.owner.CA, ownerCert); err != nil {
		return nil, errors.Join(fmt.Errorf("connect to cluster %s as owner: %w", o.Name, err), c.Close())
	}
	c.Management = apb.NewManagementClient(c.mgmtConn)
	return c, nil
}

// Close destroys the cluster and deletes its metroctl context. It may be called more than once.
func (c *Cluster) Close() error {
	var errs []error
	if c.mgmtConn != nil {
		c.mgmtConn.Close()
		c.mgmtConn = nil
	}
	if c.Hosted != nil {
		errs = append(errs, c.Hosted.Destroy())
		errs = append(errs, c.store.DeleteContext(c.Hosted.Name))
		c.Hosted = nil
	}
	return errors.Join(errs...)
}

// SaveLogs copies every node's console log into dir (as NAME-nodeI.log), so that a failed
// benchmark can be understood after Close deleted the cluster.
func (c *Cluster) SaveLogs(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var errs []error
	for i := 1; i <= c.Hosted.Nodes(); i++ {
		data, err := os.ReadFile(c.Hosted.LogPath(i))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-node%d.log", c.Hosted.Name, i)), data, 0o600)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CuratorEndpoint is node i's curator address (host:port).
func (c *Cluster) CuratorEndpoint(i int) string {
	return net.JoinHostPort(c.Hosted.Addresses[i-1], strconv.Itoa(int(ports.Curator)))
}

// endpoints are the curator addresses of every node.
func (c *Cluster) endpoints() []string {
	endpoints := make([]string, c.Hosted.Nodes())
	for i := range endpoints {
		endpoints[i] = c.CuratorEndpoint(i + 1)
	}
	return endpoints
}

// Leader is the curator leader as Discovery names it.
type Leader struct {
	NodeID string
	// Endpoint is its curator address (host:port).
	Endpoint string
	// Index is its node number in the hosted cluster (from 1).
	Index int
}

// Leader asks the cluster which node's curator leads.
func (c *Cluster) Leader(ctx context.Context) (Leader, error) {
	conn, err := rpc.DialCluster(c.endpoints(), c.owner.CA, nil)
	if err != nil {
		return Leader{}, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := rpc.CurrentLeader(ctx, conn)
	if err != nil {
		return Leader{}, err
	}
	for i := 1; i <= c.Hosted.Nodes(); i++ {
		if c.CuratorEndpoint(i) == res.Address {
			return Leader{NodeID: res.NodeID, Endpoint: res.Address, Index: i}, nil
		}
	}
	return Leader{}, fmt.Errorf("curator leader %s at %s is none of the cluster's nodes %v", res.NodeID, res.Address, c.Hosted.Addresses)
}

// NodePID finds the process of node i: the one process in its network namespace whose parent
// is outside it (a controller's Kubernetes components are its children there).
func (c *Cluster) NodePID(i int) (int, error) {
	network, err := netns.Attach(c.Hosted.Network)
	if err != nil {
		return 0, err
	}
	node, err := network.Node(i)
	if err != nil {
		return 0, err
	}
	pids, err := NamespacePIDs(filepath.Join("/run/netns", node.Namespace))
	if err != nil {
		return 0, err
	}
	inside := map[int]bool{}
	for _, pid := range pids {
		inside[pid] = true
	}
	var roots []int
	for _, pid := range pids {
		if ppid, err := parentPID(pid); err == nil && !inside[ppid] {
			roots = append(roots, pid)
		}
	}
	if len(roots) != 1 {
		return 0, fmt.Errorf("node %d: namespace %s holds process trees %v (of processes %v), want exactly one", i, node.Namespace, roots, pids)
	}
	return roots[0], nil
}

// CA is the cluster CA the owner's context pinned at launch.
func (c *Cluster) CA() *x509.Certificate { return c.owner.CA }
