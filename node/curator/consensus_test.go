package curator

import (
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/rpc"
)

// joinConsensus does what a node's roleserve does when it is granted the consensus member
// role, driven by the curator: the role arrives through Watch with the etcd members to start
// with, the etcd certificate comes from IssueCertificate, the member starts and is promoted by
// the leader, and a curator starts beside it.
func joinConsensus(t *testing.T, c *testCluster, n *testNode) (*etcdMember, *testCurator) {
	t.Helper()
	yes := true
	if _, err := c.mgmt().UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: n.id, ConsensusMember: &yes}); err != nil {
		t.Fatalf("grant consensus_member to %s: %v", n.id, err)
	}
	node := cpb.NewCuratorClient(c.dial(n.cert))
	watch, err := node.Watch(callCtx(t), &cpb.WatchRequest{Kind: &cpb.WatchRequest_Node{Node: &cpb.WatchRequest_NodeInCluster{NodeId: n.id}}})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := watch.Recv()
	if err != nil {
		t.Fatal(err)
	}
	peers := ev.GetNodes()[0].GetRoles().GetConsensusMember().GetPeers()
	initial := map[string]string{}
	for _, p := range peers {
		initial[p.GetName()] = p.GetUrl()
	}
	if _, ok := initial[n.id]; !ok || len(initial) < 2 {
		t.Fatalf("consensus role of %s lists peers %v, want the existing members and the node itself", n.id, initial)
	}

	etcdPub, etcdKey := genKey(t)
	resp, err := node.IssueCertificate(callCtx(t), &cpb.IssueCertificateRequest{Kind: cpb.CertificateKind_CERTIFICATE_KIND_CONSENSUS_PEER, PublicKey: etcdPub})
	if err != nil {
		t.Fatalf("etcd certificate for %s: %v", n.id, err)
	}
	cert, err := pki.ParseCertificateDER(resp.GetCertificate())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.VerifyService(cert, c.ca, pki.PurposeServer, time.Now()); err != nil || len(cert.IPAddresses) != 1 || cert.IPAddresses[0].String() != n.ip {
		t.Fatalf("etcd certificate of %s: %v, IP addresses %v; want a service certificate for %s", n.id, err, cert.IPAddresses, n.ip)
	}
	// etcd checks that a peer connects from an address its certificate names. On this test's
	// shared loopback every connection to 127.0.0.1 comes from 127.0.0.1, whatever the node's
	// own address, so the member uses a certificate that also names 127.0.0.1 (real nodes
	// each have their own address and use the curator's certificate as is).
	cert, err = c.issuer.IssueServiceCertificate(pki.ServiceRequest{
		CommonName: cert.Subject.CommonName, IPAddresses: []net.IP{net.ParseIP(n.ip), net.IPv4(127, 0, 0, 1)},
		Usage: pki.ServicePeer, PublicKey: etcdPub,
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	member := startEtcdMember(t, etcdConfig(t, n, c.ca, cert, etcdKey, c.peerPort, initial))
	cl := member.client(t)
	waitForVoter(t, c.etcd, n.id)

	tc := c.startCurator(n, cl)
	if err := c.reportStatus(n, &apb.NodeStatus_RunningCurator{Port: int32(portOf(t, tc.addr))}); err != nil {
		t.Fatal(err)
	}
	return member, tc
}

// waitForVoter waits until the leader's promoter has made name a voting etcd member.
func waitForVoter(t *testing.T, cl *clientv3.Client, name string) {
	t.Helper()
	deadline := time.Now().Add(callTimeout)
	for time.Now().Before(deadline) {
		list, err := cl.MemberList(callCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list.Members {
			if m.Name == name && !m.IsLearner {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s was never promoted to a voting etcd member", name)
}

func etcdMembers(t *testing.T, cl *clientv3.Client) map[string]bool {
	t.Helper()
	list, err := cl.MemberList(callCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range list.Members {
		names[m.Name] = true
	}
	return names
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConsensusMembershipAndFailover grows a cluster to three consensus members through the
// curator, checks that followers send clients to the leader, stops the leader's curator and
// checks that a client keeps working, and finally revokes a member's role.
func TestConsensusMembershipAndFailover(t *testing.T) {
	c := newTestCluster(t, 0)
	b := c.addNode("127.0.0.2")
	d := c.addNode("127.0.0.3")
	joinConsensus(t, c, b)
	dEtcd, dCurator := joinConsensus(t, c, d)
	if got := etcdMembers(t, c.etcd); len(got) != 3 || !got[c.first.id] || !got[b.id] || !got[d.id] {
		t.Fatalf("etcd members = %v, want the three nodes", got)
	}

	info, err := c.mgmt().GetClusterInfo(callCtx(t), &apb.GetClusterInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.GetClusterAddresses()) != 3 {
		t.Errorf("cluster addresses = %v, want the three curators", info.GetClusterAddresses())
	}

	leader := c.waitForLeader()
	for _, tc := range c.curators {
		if tc == leader {
			continue
		}
		conn, err := rpc.DialNode(tc.addr, tc.node.id, c.ca, c.ownerCert)
		if err != nil {
			t.Fatal(err)
		}
		_, err = apb.NewManagementClient(conn).GetRegisterTicket(callCtx(t), &apb.GetRegisterTicketRequest{})
		conn.Close()
		expectCode(t, "a management call on a follower", err, codes.Unavailable, "the leader is "+leader.node.id)
	}

	// A client that knows every curator, connected before the failover.
	m := c.mgmt()
	if _, err := m.GetNode(callCtx(t), &apb.GetNodeRequest{NodeId: b.id}); err != nil {
		t.Fatal(err)
	}
	leader.stop()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := m.GetNodes(ctx, &apb.GetNodesRequest{})
	if err == nil {
		for err == nil {
			_, err = stream.Recv()
		}
		if err == io.EOF {
			err = nil
		}
	}
	// A stream is not retried by the client; a caller opens it again, as a unary call would be.
	for err != nil && ctx.Err() == nil {
		_, err = m.GetNode(ctx, &apb.GetNodeRequest{NodeId: b.id})
	}
	if err != nil {
		t.Fatalf("no answer within 30s of the leader's curator stopping: %v", err)
	}
	t.Logf("a client reached the new leader %v after the old one stopped", time.Since(start).Round(time.Millisecond))
	if nl := c.waitForLeader(); nl == leader {
		t.Fatal("the stopped curator still leads")
	}

	// Revoking the role removes the etcd member (its node's roleserve stops its curator and
	// etcd first, as here).
	if leader != dCurator {
		dCurator.stop()
	}
	no := false
	if _, err := c.mgmt().UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: d.id, ConsensusMember: &no}); err != nil {
		t.Fatalf("revoke consensus_member: %v", err)
	}
	dEtcd.stop()
	if got := etcdMembers(t, c.etcd); len(got) != 2 || got[d.id] {
		t.Errorf("etcd members after revoking %s = %v, want the other two", d.id, got)
	}
	if n := c.node(d.id); n.GetRoles().GetConsensusMember() {
		t.Errorf("node %s still holds consensus_member", d.id)
	}
}

// TestLeaderLeavesConsensus revokes consensus_member from the node whose curator leads, and
// then deletes it: the leader cannot remove its own etcd member (its etcd client would hang
// on the removed member), so it hands the leadership over and the client's retry reaches the
// next leader, which does it. Both calls succeed within the call's deadline.
func TestLeaderLeavesConsensus(t *testing.T) {
	c := newTestCluster(t, 0)
	b := c.addNode("127.0.0.2")
	d := c.addNode("127.0.0.3")
	joinConsensus(t, c, b)
	dEtcd, _ := joinConsensus(t, c, d)
	old := c.waitForLeader()
	if old.node != c.first {
		t.Fatalf("%s leads; the first node's curator, which started first, should", old.node.id)
	}
	mgmt := c.mgmt()

	no := false
	start := time.Now()
	if _, err := mgmt.UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{
		NodeId: old.node.id, ConsensusMember: &no, KubernetesController: &no,
	}); err != nil {
		t.Fatalf("revoke consensus_member from the leader's node: %v", err)
	}
	t.Logf("the leader's node left consensus in %v", time.Since(start).Round(time.Millisecond))
	remaining := dEtcd.client(t)
	if got := etcdMembers(t, remaining); len(got) != 2 || got[old.node.id] {
		t.Errorf("etcd members after revoking the leader's role = %v, want the other two", got)
	}
	if n := c.node(old.node.id); n.GetRoles().GetConsensusMember() {
		t.Errorf("node %s still holds consensus_member", old.node.id)
	}
	if nl := c.waitForLeader(); nl == old {
		t.Errorf("%s still leads after leaving consensus", old.node.id)
	}

	// Its roleserve would now stop the curator; the node record is another leader's to delete.
	old.stop()
	if _, err := mgmt.DeleteNode(callCtx(t), &apb.DeleteNodeRequest{NodeId: old.node.id, SkipSafetyChecks: true}); err != nil {
		t.Fatalf("delete the former leader's node: %v", err)
	}
	if n := c.node(old.node.id); n.GetState() != apb.NodeState_NODE_STATE_DECOMMISSIONED {
		t.Errorf("node %s is %v after deletion", old.node.id, n.GetState())
	}
}

// TestLeaderDeletesItsOwnNode deletes the node whose curator leads while it is still a
// consensus member: it hands the leadership over, as for a role revocation.
func TestLeaderDeletesItsOwnNode(t *testing.T) {
	c := newTestCluster(t, 0)
	joinConsensus(t, c, c.addNode("127.0.0.2"))
	bEtcd, _ := joinConsensus(t, c, c.addNode("127.0.0.3"))
	old := c.waitForLeader()
	if _, err := c.mgmt().DeleteNode(callCtx(t), &apb.DeleteNodeRequest{NodeId: old.node.id, SkipSafetyChecks: true}); err != nil {
		t.Fatalf("delete the leader's node: %v", err)
	}
	if got := etcdMembers(t, bEtcd.client(t)); len(got) != 2 || got[old.node.id] {
		t.Errorf("etcd members after deleting the leader's node = %v, want the other two", got)
	}
	if n := c.node(old.node.id); n.GetState() != apb.NodeState_NODE_STATE_DECOMMISSIONED {
		t.Errorf("node %s is %v after deletion", old.node.id, n.GetState())
	}
}
