package curator

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/pki"
)

// TestBootstrapCreatesTheFirstNode checks what Bootstrap leaves behind: the first node UP with
// the consensus member and Kubernetes controller roles, a node certificate for its key, and
// the CA it was given.
func TestBootstrapCreatesTheFirstNode(t *testing.T) {
	c := newTestCluster(t, 0)
	if id, err := pki.VerifyNode(c.first.cert.Leaf, c.ca, pki.PurposeServer, time.Now()); err != nil || id != c.first.id {
		t.Fatalf("first node's certificate verifies as %q, %v; want node %s", id, err, c.first.id)
	}
	n := c.node(c.first.id)
	if n.GetState() != apb.NodeState_NODE_STATE_UP || !n.GetRoles().GetConsensusMember() || !n.GetRoles().GetKubernetesController() {
		t.Errorf("first node = %v, want UP with consensus_member and kubernetes_controller", n)
	}
	if n.GetStatus().GetExternalAddress() != c.first.ip {
		t.Errorf("first node's address = %q, want %q", n.GetStatus().GetExternalAddress(), c.first.ip)
	}
	unlock, err := c.join(c.first, c.first.joinKey)
	if err != nil || string(unlock) != string(c.first.unlockKey) {
		t.Errorf("first node's join = %x, %v; want its unlock key", unlock, err)
	}
}

// TestBootstrapRepeated runs Bootstrap again on a bootstrapped cluster: the same request
// succeeds without changing anything (a node that crashed during bootstrap retries), any other
// is refused and leaves the stored state alone.
func TestBootstrapRepeated(t *testing.T) {
	ca, err := NewClusterCA()
	if err != nil {
		t.Fatal(err)
	}
	first := newTestNode(t, "127.0.0.1")
	etcdPub, etcdKey := genKey(t)
	if _, err := IssueConsensusCertificate(ca, first.id, etcdPub, nil); err == nil {
		t.Fatal("an etcd certificate without an IP address was issued")
	}
	etcdCert, err := IssueConsensusCertificate(ca, first.id, etcdPub, []byte{127, 0, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	cl := startEtcdMember(t, etcdConfig(t, first, ca.Certificate(), etcdCert, etcdKey, freePort(t, first.ip), nil)).client(t)
	ownerPub, _ := genKey(t)
	req := BootstrapRequest{CA: ca, OwnerPublicKey: ownerPub, NodePublicKey: first.pub(), JoinPublicKey: first.joinPub(),
		ClusterUnlockKey: first.unlockKey, Address: first.ip}

	res, err := Bootstrap(callCtx(t), cl, req)
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	before := revision(t, cl)
	again, err := Bootstrap(callCtx(t), cl, req)
	if err != nil {
		t.Fatalf("repeated bootstrap: %v", err)
	}
	if again.ClusterID != res.ClusterID || !again.NodeCertificate.PublicKey.(ed25519.PublicKey).Equal(first.pub()) {
		t.Errorf("repeated bootstrap returned %s and a certificate for another key; want %s", again.ClusterID, res.ClusterID)
	}

	otherCA, err := NewClusterCA()
	if err != nil {
		t.Fatal(err)
	}
	otherOwner, _ := genKey(t)
	other := newTestNode(t, "127.0.0.1")
	for _, c := range []struct {
		name    string
		change  func(*BootstrapRequest)
		message string
	}{
		{"another CA", func(r *BootstrapRequest) { r.CA = otherCA }, "another CA"},
		{"another owner", func(r *BootstrapRequest) { r.OwnerPublicKey = otherOwner }, "another owner key"},
		{"another node", func(r *BootstrapRequest) { r.NodePublicKey = other.pub() }, "etcd has no member named"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := req
			c.change(&r)
			if _, err := Bootstrap(callCtx(t), cl, r); err == nil || !strings.Contains(err.Error(), c.message) {
				t.Fatalf("bootstrap = %v, want an error mentioning %q", err, c.message)
			}
		})
	}
	if after := revision(t, cl); after != before {
		t.Errorf("etcd revision went from %d to %d: a repeated or refused bootstrap wrote something", before, after)
	}
}

func revision(t *testing.T, cl *clientv3.Client) int64 {
	t.Helper()
	resp, err := cl.Get(context.Background(), keyCluster)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

// TestBootstrapRequestCheck names the field that is wrong.
func TestBootstrapRequestCheck(t *testing.T) {
	ca, err := NewClusterCA()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := genKey(t)
	valid := BootstrapRequest{CA: ca, OwnerPublicKey: pub, NodePublicKey: pub, JoinPublicKey: pub,
		ClusterUnlockKey: make([]byte, 32), Address: "192.0.2.10"}
	if err := valid.check(); err != nil {
		t.Fatalf("valid request refused: %v", err)
	}
	for _, c := range []struct {
		field  string
		change func(*BootstrapRequest)
	}{
		{"CA", func(r *BootstrapRequest) { r.CA = nil }},
		{"OwnerPublicKey", func(r *BootstrapRequest) { r.OwnerPublicKey = nil }},
		{"NodePublicKey", func(r *BootstrapRequest) { r.NodePublicKey = pub[:5] }},
		{"JoinPublicKey", func(r *BootstrapRequest) { r.JoinPublicKey = nil }},
		{"ClusterUnlockKey", func(r *BootstrapRequest) { r.ClusterUnlockKey = []byte("short") }},
		{"Address", func(r *BootstrapRequest) { r.Address = "192.0.2.10:7835" }},
	} {
		r := valid
		c.change(&r)
		if err := r.check(); err == nil || !strings.HasPrefix(err.Error(), "BootstrapRequest."+c.field+":") {
			t.Errorf("request with a bad %s: %v, want an error naming it", c.field, err)
		}
	}
}
