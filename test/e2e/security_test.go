package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// TestSecurity: who may call what, how requests that are wrong are refused, how a node gets
// in and how a deleted one stays out. One four-node cluster serves every case; of its nodes,
// three are consensus members and one holds no role, so it can be deleted for the cases about
// deleted nodes.
func TestSecurity(t *testing.T) {
	c := launchCluster(t, "sec", 4)

	t.Run("bad requests are refused with a precise code", func(t *testing.T) { testBadRequests(t, c) })
	t.Run("a wrong register ticket is refused", func(t *testing.T) { testWrongTicket(t, c) })
	t.Run("an unapproved node gets no certificate", func(t *testing.T) { testUnapprovedNode(t, c) })

	ctx := callContext(t)
	deleted, err := c.nodeWithoutRoles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The node to be deleted becomes a consensus member first, so that it holds an etcd
	// certificate the other members admit until it is deleted.
	etcdCert := c.makeConsensusMember(t, deleted)
	if _, err = c.mgmt.DeleteNode(callContext(t), &apb.DeleteNodeRequest{NodeId: c.ids[deleted-1], SkipSafetyChecks: true}); err != nil {
		t.Fatalf("delete node %d: %v", deleted, err)
	}
	ctx = callContext(t)
	n, err := c.node(ctx, deleted)
	if err != nil {
		t.Fatal(err)
	}
	if n.State != apb.NodeState_NODE_STATE_DECOMMISSIONED {
		t.Fatalf("deleted node %d is %v, want DECOMMISSIONED", deleted, n.State)
	}

	t.Run("a deleted node says so in its own status", func(t *testing.T) {
		// The node learns it from its watch of itself, which gets the tombstone at once.
		eventually.Pass(t, time.Minute, fmt.Sprintf("deleted node %d's own status to say DECOMMISSIONED", deleted), attempt(func(ctx context.Context) error {
			st, err := c.nodeStatus(ctx, deleted)
			if err != nil {
				return err
			}
			if st.State != apb.NodeState_NODE_STATE_DECOMMISSIONED {
				return fmt.Errorf("it says %v", st.State)
			}
			return nil
		}))
	})
	t.Run("a deleted member's etcd certificate is refused by the other members", func(t *testing.T) {
		for i := 1; i <= c.Nodes(); i++ {
			if i == deleted {
				continue
			}
			eventually.Pass(t, time.Minute, fmt.Sprintf("node %d's etcd peer port to refuse deleted node %d's etcd certificate", i, deleted), attempt(func(ctx context.Context) error {
				if err := c.etcdPeerAdmits(ctx, i, deleted, etcdCert); err == nil {
					return errors.New("still admitted")
				}
				return nil
			}))
		}
	})
	t.Run("each kind of caller may call only what it is granted", func(t *testing.T) { testAuthorization(t, c, deleted) })
	t.Run("a deleted node cannot rejoin", func(t *testing.T) { testDeletedNodeStaysOut(t, c, deleted) })
	t.Run("metrics are served to metrics credentials only", func(t *testing.T) { testMetrics(t, c, deleted) })
}

// nodeWithoutRoles returns the number of a node that holds no role.
func (c *testCluster) nodeWithoutRoles(ctx context.Context) (int, error) {
	for i := 1; i <= c.Nodes(); i++ {
		n, err := c.node(ctx, i)
		if err != nil {
			return 0, err
		}
		if !n.Roles.GetConsensusMember() && !n.Roles.GetKubernetesController() && !n.Roles.GetKubernetesWorker() {
			return i, nil
		}
	}
	return 0, fmt.Errorf("every node of %v holds a role", c.ids)
}

// makeConsensusMember grants node i the consensus member role and waits until its etcd
// member runs and the other members admit its etcd certificate, which it returns (with the
// node's key, as the node presents it).
func (c *testCluster) makeConsensusMember(t *testing.T, i int) tls.Certificate {
	t.Helper()
	yes := true
	if _, err := c.mgmt.UpdateNodeRoles(callContext(t), &apb.UpdateNodeRolesRequest{NodeId: c.ids[i-1], ConsensusMember: &yes}); err != nil {
		t.Fatalf("grant consensus_member to node %d: %v", i, err)
	}
	var cert tls.Certificate
	other := i%c.Nodes() + 1
	eventually.Pass(t, 3*time.Minute, fmt.Sprintf("node %d's etcd certificate to be admitted by node %d", i, other), attempt(func(ctx context.Context) error {
		dir := c.stateDir(i)
		var err error
		if cert, err = tls.LoadX509KeyPair(filepath.Join(dir, testenv.EtcdCertFile), filepath.Join(dir, testenv.NodeKeyFile)); err != nil {
			return err
		}
		return c.etcdPeerAdmits(ctx, other, i, cert)
	}))
	return cert
}

// etcdPeerAdmits says (nil) whether node i's etcd peer port answers GET /version to cert,
// presented from node from (etcd checks that a peer calls from an address its certificate
// names).
func (c *testCluster) etcdPeerAdmits(ctx context.Context, i, from int, cert tls.Certificate) error {
	dial, err := testenv.HostedDialer(c.Cluster, from)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(c.ca)
	client := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext:       dial,
		TLSClientConfig:   &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}}
	url := "https://" + net.JoinHostPort(c.Addresses[i-1], strconv.Itoa(int(ports.ConsensusPeer))) + "/version"
	body, err := getOK(ctx, client, url)
	if err != nil {
		return fmt.Errorf("node %d's etcd peer port: %w", i, err)
	}
	return body.Close()
}
