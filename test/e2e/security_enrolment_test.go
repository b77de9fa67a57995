package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/rpc"
	"metropolis.dev/metropolis/osbase/eventually"
)

// newcomer is a would-be node that the test plays itself, through the Curator API, with the
// two keys a node has.
type newcomer struct {
	id               string
	nodeKey, joinKey ed25519.PrivateKey
	// nodeCert and join are self-signed certificates of the two keys.
	nodeCert, join tls.Certificate
	// nodeKeyCurator and joinKeyCurator reach the curator leader proving one key each.
	nodeKeyCurator, joinKeyCurator cpb.CuratorClient
}

// newNewcomer makes a newcomer's keys and its connections to the curator leader, each proving
// one key with a self-signed certificate, as a registering node does.
func newNewcomer(t *testing.T, c *testCluster) *newcomer {
	t.Helper()
	n := &newcomer{}
	var err error
	for _, k := range []*ed25519.PrivateKey{&n.nodeKey, &n.joinKey} {
		if _, *k, err = identity.GenerateKey(); err != nil {
			t.Fatal(err)
		}
	}
	n.id = identity.NodeID(n.nodeKey.Public().(ed25519.PublicKey))
	if n.nodeCert, err = rpc.SelfSignedCertificate(n.nodeKey); err != nil {
		t.Fatal(err)
	}
	if n.join, err = rpc.SelfSignedCertificate(n.joinKey); err != nil {
		t.Fatal(err)
	}
	nodeConn, err := rpc.DialCurator(c.curatorEndpoints(), c.ca, &n.nodeCert)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nodeConn.Close() })
	joinConn, err := rpc.DialCurator(c.curatorEndpoints(), c.ca, &n.join)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { joinConn.Close() })
	n.nodeKeyCurator, n.joinKeyCurator = cpb.NewCuratorClient(nodeConn), cpb.NewCuratorClient(joinConn)
	return n
}

func (n *newcomer) register(ctx context.Context, ticket []byte) error {
	_, err := n.nodeKeyCurator.RegisterNode(ctx, &cpb.RegisterNodeRequest{
		RegisterTicket: ticket, JoinPublicKey: n.joinKey.Public().(ed25519.PublicKey),
	})
	return err
}

// testWrongTicket: a node with a wrong register ticket is refused and not recorded.
func testWrongTicket(t *testing.T, c *testCluster) {
	ctx := callContext(t)
	n := newNewcomer(t, c)
	err := n.register(ctx, []byte("not the cluster's register ticket"))
	if s := status.Convert(err); s.Code() != codes.PermissionDenied || s.Message() == "" {
		t.Fatalf("register with a wrong ticket: %v, want PermissionDenied with a message", err)
	}
	_, err = c.mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: n.id})
	if status.Code(err) != codes.NotFound {
		t.Errorf("the refused node %s: GetNode gives %v, want NotFound (not recorded)", n.id, err)
	}
}

// testUnapprovedNode: a node registered with the right ticket is NEW, and until an operator
// approves it, it gets neither a node certificate nor a storage key, nor any node's
// permissions.
func testUnapprovedNode(t *testing.T, c *testCluster) {
	ctx := callContext(t)
	ticket, err := c.mgmt.GetRegisterTicket(ctx, &apb.GetRegisterTicketRequest{})
	if err != nil {
		t.Fatal(err)
	}
	n := newNewcomer(t, c)
	if err := n.register(ctx, ticket.Ticket); err != nil {
		t.Fatalf("register with the cluster's ticket: %v", err)
	}

	unlockKey := make([]byte, 32)
	if _, err := rand.Read(unlockKey); err != nil {
		t.Fatal(err)
	}
	res, err := n.nodeKeyCurator.CommitNode(ctx, &cpb.CommitNodeRequest{ClusterUnlockKey: unlockKey})
	if s := status.Convert(err); s.Code() != codes.FailedPrecondition || s.Message() == "" {
		t.Errorf("commit before approval: %v, want FailedPrecondition with a message", err)
	}
	if len(res.GetNodeCertificate()) > 0 {
		t.Errorf("commit before approval handed out a node certificate")
	}
	join, err := n.joinKeyCurator.JoinNode(ctx, &cpb.JoinNodeRequest{NodeId: n.id})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("join before approval: %v, want FailedPrecondition", err)
	}
	if len(join.GetClusterUnlockKey()) > 0 {
		t.Errorf("join before approval handed out the cluster's half of the storage key")
	}
	if err := callWatch(ctx, c, &n.nodeCert); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a node-only call with the unapproved node's key: %v, want Unauthenticated", err)
	}

	got, err := c.mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: n.id})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != apb.NodeState_NODE_STATE_NEW {
		t.Errorf("the unapproved node is %v, want NEW", got.State)
	}
}

// testDeletedNodeStaysOut: node i, deleted, is refused when it starts again, says so in its
// log, and never becomes UP again.
func testDeletedNodeStaysOut(t *testing.T, c *testCluster, i int) {
	if err := c.KillNode(i, false); err != nil {
		t.Fatal(err)
	}
	logStart, err := fileSize(c.LogPath(i))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartNode(i); err != nil {
		t.Fatal(err)
	}
	// Two refusals show that the node keeps trying and keeps being refused.
	const refusals = 2
	eventually.Pass(t, time.Minute, fmt.Sprintf("node %d to log %d refusals after its restart", i, refusals), attempt(func(ctx context.Context) error {
		lines, err := refusalLines(c.LogPath(i), logStart)
		if err != nil {
			return err
		}
		if len(lines) < refusals {
			return fmt.Errorf("%d refusals logged: %q", len(lines), lines)
		}
		t.Logf("node %d logged: %s", i, lines[0])
		return nil
	}))
	n, err := c.node(callContext(t), i)
	if err != nil {
		t.Fatal(err)
	}
	if n.State != apb.NodeState_NODE_STATE_DECOMMISSIONED || n.Roles.GetConsensusMember() {
		t.Errorf("deleted node %d is %v with roles {%v} after its restart, want DECOMMISSIONED without roles", i, n.State, n.Roles)
	}
}

// refusalLines returns the lines of the log at path, from offset on, in which the node says
// the cluster refused it for being deleted.
func refusalLines(path string, offset int64) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(data[min(offset, int64(len(data))):]), "\n") {
		if strings.Contains(line, codes.PermissionDenied.String()) && strings.Contains(line, "DECOMMISSIONED") {
			out = append(out, line)
		}
	}
	return out, nil
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
