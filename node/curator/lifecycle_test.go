package curator

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/pki"
)

// expectCode fails the test unless err has code and mentions fragment.
func expectCode(t *testing.T, what string, err error, code codes.Code, fragment string) {
	t.Helper()
	if status.Code(err) != code || (fragment != "" && !strings.Contains(status.Convert(err).Message(), fragment)) {
		t.Fatalf("%s = %v, want %v mentioning %q", what, err, code, fragment)
	}
}

// TestNodeLifecycle takes one node through its whole life: register (with a wrong, then the
// right ticket), approve, commit, join, and delete, checking after each step what the node
// can and cannot do.
func TestNodeLifecycle(t *testing.T) {
	c := newTestCluster(t, 0)
	n := newTestNode(t, "127.0.0.2")

	expectCode(t, "register with a wrong ticket", c.register(n, []byte("not the ticket")), codes.PermissionDenied, "invalid register ticket")
	if err := c.register(n, c.ticket()); err != nil {
		t.Fatalf("register with the ticket: %v", err)
	}
	if got := c.node(n.id); got.GetState() != apb.NodeState_NODE_STATE_NEW || !ed25519.PublicKey(got.GetPublicKey()).Equal(n.pub()) {
		t.Fatalf("registered node = %v, want NEW with its key", got)
	}
	if err := c.register(n, c.ticket()); err != nil {
		t.Fatalf("registering again: %v, want success (a node may reboot before approval)", err)
	}

	_, err := c.commit(n)
	expectCode(t, "commit before approval", err, codes.FailedPrecondition, "not yet approved")
	_, err = c.join(n, n.joinKey)
	expectCode(t, "join before commit", err, codes.FailedPrecondition, "NEW, not UP")

	if err := c.approve(n); err != nil {
		t.Fatalf("approve: %v", err)
	}
	if err := c.approve(n); err != nil {
		t.Fatalf("approving again: %v, want success", err)
	}
	if got := c.node(n.id).GetState(); got != apb.NodeState_NODE_STATE_STANDBY {
		t.Fatalf("approved node is %v, want STANDBY", got)
	}

	resp, err := c.commit(n)
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	if id, err := pki.VerifyNode(n.cert.Leaf, c.ca, pki.PurposeClient, time.Now()); err != nil || id != n.id {
		t.Fatalf("committed node's certificate verifies as %q, %v; want node %s", id, err, n.id)
	}
	if string(resp.GetCaCertificate()) != string(c.ca.Raw) {
		t.Error("commit did not return the cluster CA")
	}
	if _, err := c.commit(n); err != nil {
		t.Fatalf("committing again with the same key: %v, want the certificate again", err)
	}
	// A node that sends its address at commit gets a certificate naming it, before it has
	// reported any status; an address that is none is refused.
	withAddr, err := cpb.NewCuratorClient(c.dial(selfSigned(t, n.key))).CommitNode(callCtx(t),
		&cpb.CommitNodeRequest{ClusterUnlockKey: n.unlockKey, ExternalAddress: "10.9.8.7"})
	if err != nil {
		t.Fatalf("commit with an address: %v", err)
	}
	if cert, err := pki.ParseCertificateDER(withAddr.GetNodeCertificate()); err != nil || len(cert.IPAddresses) != 1 || cert.IPAddresses[0].String() != "10.9.8.7" {
		t.Errorf("certificate from a commit with address 10.9.8.7 names %v (%v)", cert.IPAddresses, err)
	}
	_, err = cpb.NewCuratorClient(c.dial(selfSigned(t, n.key))).CommitNode(callCtx(t),
		&cpb.CommitNodeRequest{ClusterUnlockKey: n.unlockKey, ExternalAddress: "not-an-address"})
	expectCode(t, "commit with a malformed address", err, codes.InvalidArgument, `external_address: "not-an-address" is not an IP address`)
	_, err = cpb.NewCuratorClient(c.dial(selfSigned(t, n.key))).CommitNode(callCtx(t),
		&cpb.CommitNodeRequest{ClusterUnlockKey: []byte("another unlock key")})
	expectCode(t, "commit again with another unlock key", err, codes.AlreadyExists, "already committed")
	if err := c.register(n, c.ticket()); err != nil {
		t.Fatalf("registering the UP node again with its join key: %v, want success", err)
	}
	_, otherJoin := genKey(t)
	_, err = cpb.NewCuratorClient(c.dial(selfSigned(t, n.key))).RegisterNode(callCtx(t),
		&cpb.RegisterNodeRequest{RegisterTicket: c.ticket(), JoinPublicKey: otherJoin.Public().(ed25519.PublicKey)})
	expectCode(t, "register the UP node with another join key", err, codes.AlreadyExists, "join_public_key")
	if got := c.node(n.id).GetState(); got != apb.NodeState_NODE_STATE_UP {
		t.Fatalf("committed node is %v, want UP", got)
	}

	joined, err := c.joinResponse(n, n.joinKey)
	if unlock := joined.GetClusterUnlockKey(); err != nil || string(unlock) != string(n.unlockKey) {
		t.Fatalf("join with the join key = %x, %v; want the unlock key handed over at commit", unlock, err)
	}
	// A node that was off for longer than its certificate lasts gets a new one at join.
	renewed, err := pki.ParseCertificateDER(joined.GetNodeCertificate())
	if err != nil {
		t.Fatalf("join: node certificate: %v", err)
	}
	if id, err := pki.VerifyNode(renewed, c.ca, pki.PurposeServer, time.Now()); err != nil || id != n.id {
		t.Fatalf("join: node certificate for %q (%v), want a valid one for %s", id, err, n.id)
	}
	if !renewed.PublicKey.(ed25519.PublicKey).Equal(n.key.Public()) {
		t.Fatal("join: node certificate is not for the node's key")
	}
	_, err = c.join(n, n.key)
	expectCode(t, "join proving the node key instead of the join key", err, codes.PermissionDenied, "not the node's join key")
	if err := c.reportStatus(n, nil); err != nil {
		t.Fatalf("the UP node's certificate was refused: %v", err)
	}

	if _, err := c.mgmt().DeleteNode(callCtx(t), &apb.DeleteNodeRequest{NodeId: n.id}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got := c.node(n.id).GetState(); got != apb.NodeState_NODE_STATE_DECOMMISSIONED {
		t.Fatalf("deleted node is %v, want DECOMMISSIONED", got)
	}
	expectCode(t, "a deleted node's certificate", c.reportStatus(n, nil), codes.PermissionDenied, n.id+" is DECOMMISSIONED")
	_, err = c.join(n, n.joinKey)
	expectCode(t, "join of a deleted node", err, codes.PermissionDenied, "DECOMMISSIONED")
	expectCode(t, "register of a deleted node", c.register(n, c.ticket()), codes.FailedPrecondition, "DECOMMISSIONED")
	if _, err := c.mgmt().DeleteNode(callCtx(t), &apb.DeleteNodeRequest{NodeId: n.id}); err != nil {
		t.Fatalf("deleting again: %v, want success", err)
	}
}

// TestOpenMethodsNeedAKey checks that the open Curator methods refuse a caller that presents
// no certificate, and that unknown nodes are reported as such.
func TestOpenMethodsNeedAKey(t *testing.T) {
	c := newTestCluster(t, 0)
	anon := cpb.NewCuratorClient(c.dial(nil))
	_, err := anon.RegisterNode(callCtx(t), &cpb.RegisterNodeRequest{RegisterTicket: c.ticket()})
	expectCode(t, "register without a certificate", err, codes.Unauthenticated, "node key")
	_, err = anon.CommitNode(callCtx(t), &cpb.CommitNodeRequest{ClusterUnlockKey: make([]byte, 32)})
	expectCode(t, "commit without a certificate", err, codes.Unauthenticated, "node key")

	stranger := newTestNode(t, "127.0.0.2")
	_, err = c.commit(stranger)
	expectCode(t, "commit of an unregistered key", err, codes.NotFound, "no such node")
	_, err = c.join(stranger, stranger.joinKey)
	expectCode(t, "join of an unknown node", err, codes.NotFound, "no such node")
	err = c.register(stranger, c.ticket())
	if err != nil {
		t.Fatal(err)
	}
	_, err = cpb.NewCuratorClient(c.dial(selfSigned(t, stranger.key))).RegisterNode(callCtx(t),
		&cpb.RegisterNodeRequest{RegisterTicket: c.ticket(), JoinPublicKey: []byte("short")})
	expectCode(t, "register with a malformed join key", err, codes.InvalidArgument, "join_public_key")
	_, err = cpb.NewCuratorClient(c.dial(selfSigned(t, stranger.key))).CommitNode(callCtx(t),
		&cpb.CommitNodeRequest{ClusterUnlockKey: []byte("short")})
	expectCode(t, "commit with a short unlock key", err, codes.InvalidArgument, "cluster_unlock_key")
}
