package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/hosted"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/rpc"
	"metropolis.dev/metropolis/test/testenv"
)

const (
	// launchTimeout bounds a cluster launch; a healthy one takes about ten seconds.
	launchTimeout = 3 * time.Minute
	// logTailLines is how much of each node's console log a failed test prints.
	logTailLines = 80
)

// testCluster is a hosted cluster launched for one test, with its owner's credentials and a
// Management connection that follows the curator leader across all nodes.
type testCluster struct {
	*hosted.Cluster
	t *testing.T
	// store is the test's own metroctl configuration, holding the cluster's context.
	store *config.Store
	ca    *x509.Certificate
	owner *tls.Certificate
	// ids are the node IDs, node 1 first.
	ids  []string
	conn *grpc.ClientConn
	mgmt apb.ManagementClient
}

// launchCluster launches a cluster of n nodes named prefix plus a random suffix, and destroys
// it when the test ends (printing every node's log tail first if the test failed).
func launchCluster(t *testing.T, prefix string, n int) *testCluster {
	t.Helper()
	suite.Require(t)
	name := clusterName(t, prefix)
	store := config.NewStore(t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), launchTimeout)
	defer cancel()
	start := time.Now()
	hc, err := hosted.Launch(ctx, hosted.Options{
		Name: name, Nodes: n, NodeBinary: nodeBinary,
		Dir: filepath.Join(t.TempDir(), "cluster"), Contexts: store, Progress: testenv.LogWriter(t),
	})
	c := &testCluster{Cluster: hc, t: t, store: store}
	if hc != nil {
		t.Cleanup(c.destroy)
	}
	if err != nil {
		t.Fatalf("launch %d-node cluster %s: %v", n, name, err)
	}
	t.Logf("cluster %s: %d nodes UP and healthy after %.1fs", name, n, time.Since(start).Seconds())

	mctx, err := store.LoadContext(name)
	if err != nil {
		t.Fatalf("metroctl context of %s: %v", name, err)
	}
	if c.owner, err = mctx.OwnerTLSCertificate(); err != nil {
		t.Fatalf("owner certificate of %s: %v", name, err)
	}
	c.ca = mctx.CA
	if c.conn, err = rpc.DialCurator(c.curatorEndpoints(), c.ca, c.owner); err != nil {
		t.Fatalf("dial the curator of %s: %v", name, err)
	}
	c.mgmt = apb.NewManagementClient(c.conn)
	c.ids = c.nodeIDsByIndex(ctx)
	return c
}

// clusterName is prefix (at most 4 characters) and 4 random hex digits: short enough for the
// network's link names, and unique so that a cluster left behind by a crashed run is no clash.
func clusterName(t *testing.T, prefix string) string {
	if len(prefix) > 4 {
		t.Fatalf("cluster name prefix %q: want at most 4 characters", prefix)
	}
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

func (c *testCluster) destroy() {
	if c.conn != nil {
		c.conn.Close()
	}
	if c.t.Failed() {
		for i := 1; i <= c.Nodes(); i++ {
			c.t.Logf("node %d console log, last %d lines (%s):\n%s", i, logTailLines, c.LogPath(i), tailOf(c.LogPath(i), logTailLines))
		}
	}
	if err := c.Destroy(); err != nil {
		c.t.Errorf("destroy cluster %s: %v", c.Name, err)
	}
}

// tailOf returns the last n lines of the file at path, or why it cannot.
func tailOf(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// curatorEndpoint is host:port of node i's curator.
func (c *testCluster) curatorEndpoint(i int) string {
	return net.JoinHostPort(c.Addresses[i-1], strconv.Itoa(int(ports.Curator)))
}

// curatorEndpoints lists every node's curator address, so that connections survive the loss
// of any node (nodes without a curator refuse the connection and are skipped).
func (c *testCluster) curatorEndpoints() []string {
	var eps []string
	for i := 1; i <= c.Nodes(); i++ {
		eps = append(eps, c.curatorEndpoint(i))
	}
	return eps
}

// managementEndpoint is host:port of node i's node management API.
func (c *testCluster) managementEndpoint(i int) string {
	return net.JoinHostPort(c.Addresses[i-1], strconv.Itoa(int(ports.NodeManagement)))
}

// stateDir is node i's state directory (standing in for its data partition).
func (c *testCluster) stateDir(i int) string {
	return testenv.HostedStateDir(c.Cluster, i)
}

// nodeIDsByIndex learns which node ID each node has, from the addresses the nodes reported.
func (c *testCluster) nodeIDsByIndex(ctx context.Context) []string {
	c.t.Helper()
	nodes, err := listNodes(ctx, c.mgmt)
	if err != nil {
		c.t.Fatalf("list nodes: %v", err)
	}
	ids := make([]string, c.Nodes())
	for _, n := range nodes {
		if i := c.indexOfAddress(n.GetStatus().GetExternalAddress()); i > 0 {
			ids[i-1] = n.Id
		}
	}
	for i, id := range ids {
		if id == "" {
			c.t.Fatalf("no node reported node %d's address %s", i+1, c.Addresses[i])
		}
	}
	return ids
}

// indexOfAddress is the number of the node at IP address addr, or 0.
func (c *testCluster) indexOfAddress(addr string) int {
	for i, a := range c.Addresses {
		if a == addr {
			return i + 1
		}
	}
	return 0
}

// indexOf is the number of the node with ID id, or 0.
func (c *testCluster) indexOf(id string) int {
	for i, have := range c.ids {
		if have == id {
			return i + 1
		}
	}
	return 0
}
