package curator

import (
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

// TestManagementRefusesBadRequests runs requests that must fail against a cluster of a first
// node and a second UP node without roles, and checks each fails with the code and message
// that say why.
func TestManagementRefusesBadRequests(t *testing.T) {
	c := newTestCluster(t, 0)
	second := c.addNode("127.0.0.2")
	// twin reports the first node's address, as a misconfigured node could.
	twin := c.addNode(c.first.ip)
	newNode := newTestNode(t, "127.0.0.3")
	if err := c.register(newNode, c.ticket()); err != nil {
		t.Fatal(err)
	}
	m := c.mgmt()
	yes, no := true, false
	unknown := newTestNode(t, "127.0.0.4").id

	for _, tc := range []struct {
		name     string
		call     func() error
		code     codes.Code
		fragment string
	}{
		{"get a malformed node ID", func() error {
			_, err := m.GetNode(callCtx(t), &apb.GetNodeRequest{NodeId: "node-1"})
			return err
		}, codes.InvalidArgument, "node_id"},
		{"get an unknown node", func() error {
			_, err := m.GetNode(callCtx(t), &apb.GetNodeRequest{NodeId: unknown})
			return err
		}, codes.NotFound, unknown},
		{"approve without naming a node", func() error {
			_, err := m.ApproveNode(callCtx(t), &apb.ApproveNodeRequest{})
			return err
		}, codes.InvalidArgument, "node_id or public_key"},
		{"approve by a malformed key", func() error {
			_, err := m.ApproveNode(callCtx(t), &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_PublicKey{PublicKey: []byte("short")}})
			return err
		}, codes.InvalidArgument, "public_key"},
		{"grant kubernetes_controller without consensus_member", func() error {
			_, err := m.UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: second.id, KubernetesController: &yes})
			return err
		}, codes.FailedPrecondition, "needs consensus_member"},
		{"grant kubernetes_controller while revoking consensus_member", func() error {
			_, err := m.UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: second.id, KubernetesController: &yes, ConsensusMember: &no})
			return err
		}, codes.InvalidArgument, "which the request revokes"},
		{"grant roles to a NEW node", func() error {
			_, err := m.UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: newNode.id, KubernetesWorker: &yes})
			return err
		}, codes.FailedPrecondition, "node is NEW, not UP"},
		{"revoke consensus_member from the last consensus member", func() error {
			_, err := m.UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: c.first.id, ConsensusMember: &no, KubernetesController: &no})
			return err
		}, codes.FailedPrecondition, "last consensus member"},
		{"set a malformed label", func() error {
			_, err := m.UpdateNodeLabels(callCtx(t), &apb.UpdateNodeLabelsRequest{NodeId: second.id, Upsert: map[string]string{"bad key": "x"}})
			return err
		}, codes.InvalidArgument, `"bad key"`},
		{"label an unknown node", func() error {
			_, err := m.UpdateNodeLabels(callCtx(t), &apb.UpdateNodeLabelsRequest{NodeId: unknown, Upsert: map[string]string{"a": "b"}})
			return err
		}, codes.NotFound, unknown},
		{"delete the last consensus member, even skipping safety checks", func() error {
			_, err := m.DeleteNode(callCtx(t), &apb.DeleteNodeRequest{NodeId: c.first.id, SkipSafetyChecks: true})
			return err
		}, codes.FailedPrecondition, "last consensus member"},
		{"filter nodes by an invalid state", func() error {
			stream, err := m.GetNodes(callCtx(t), &apb.GetNodesRequest{States: []apb.NodeState{apb.NodeState_NODE_STATE_UNSPECIFIED}})
			if err != nil {
				return err
			}
			_, err = stream.Recv()
			return err
		}, codes.InvalidArgument, "states[0]"},
		{"a node calling the management API", func() error {
			_, err := apb.NewManagementClient(c.dial(second.cert)).GetClusterInfo(callCtx(t), &apb.GetClusterInfoRequest{})
			return err
		}, codes.PermissionDenied, "PERMISSION_READ_CLUSTER_STATUS"},
		{"an anonymous caller on the management API", func() error {
			_, err := apb.NewManagementClient(c.dial(nil)).GetRegisterTicket(callCtx(t), &apb.GetRegisterTicketRequest{})
			return err
		}, codes.Unauthenticated, "needs a cluster certificate"},
		{"a node reporting an address with a port", func() error {
			_, err := cpb.NewCuratorClient(c.dial(second.cert)).UpdateNodeStatus(callCtx(t), &cpb.UpdateNodeStatusRequest{
				Status: &apb.NodeStatus{ExternalAddress: "127.0.0.2:1234"}})
			return err
		}, codes.InvalidArgument, "external_address"},
		{"a node reporting the unspecified address", func() error {
			_, err := cpb.NewCuratorClient(c.dial(second.cert)).UpdateNodeStatus(callCtx(t), &cpb.UpdateNodeStatusRequest{
				Status: &apb.NodeStatus{ExternalAddress: "0.0.0.0"}})
			return err
		}, codes.InvalidArgument, "status.external_address 0.0.0.0: the unspecified address"},
		{"a node reporting a multicast address", func() error {
			_, err := cpb.NewCuratorClient(c.dial(second.cert)).UpdateNodeStatus(callCtx(t), &cpb.UpdateNodeStatusRequest{
				Status: &apb.NodeStatus{ExternalAddress: "ff02::1"}})
			return err
		}, codes.InvalidArgument, "status.external_address ff02::1: a multicast address"},
		{"grant consensus_member to a node at a consensus member's address", func() error {
			_, err := m.UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: twin.id, ConsensusMember: &yes})
			return err
		}, codes.FailedPrecondition, "node " + c.first.id + ", a consensus member, reports the same address 127.0.0.1"},
		{"a node watching another node's record", func() error {
			stream, err := cpb.NewCuratorClient(c.dial(second.cert)).Watch(callCtx(t), &cpb.WatchRequest{
				Kind: &cpb.WatchRequest_Node{Node: &cpb.WatchRequest_NodeInCluster{NodeId: c.first.id}}})
			if err != nil {
				return err
			}
			_, err = stream.Recv()
			return err
		}, codes.PermissionDenied, "may watch only its own record"},
		{"a node asking for an etcd certificate without the role", func() error {
			pub, _ := genKey(t)
			_, err := cpb.NewCuratorClient(c.dial(second.cert)).IssueCertificate(callCtx(t), &cpb.IssueCertificateRequest{
				Kind: cpb.CertificateKind_CERTIFICATE_KIND_CONSENSUS_PEER, PublicKey: pub})
			return err
		}, codes.PermissionDenied, "consensus_member"},
		{"a node asking for a node certificate for another key", func() error {
			pub, _ := genKey(t)
			_, err := cpb.NewCuratorClient(c.dial(second.cert)).IssueCertificate(callCtx(t), &cpb.IssueCertificateRequest{
				Kind: cpb.CertificateKind_CERTIFICATE_KIND_NODE, PublicKey: pub})
			return err
		}, codes.PermissionDenied, "own key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectCode(t, tc.name, tc.call(), tc.code, tc.fragment)
		})
	}
}

// TestManagementChangesNodes checks the effects of the successful management calls.
func TestManagementChangesNodes(t *testing.T) {
	c := newTestCluster(t, 0)
	second := c.addNode("127.0.0.2")
	third := newTestNode(t, "127.0.0.3")
	if err := c.register(third, c.ticket()); err != nil {
		t.Fatal(err)
	}
	m := c.mgmt()
	yes := true

	if _, err := m.ApproveNode(callCtx(t), &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_PublicKey{PublicKey: third.pub()}}); err != nil {
		t.Fatalf("approve by public key: %v", err)
	}
	if got := c.node(third.id).GetState(); got != apb.NodeState_NODE_STATE_STANDBY {
		t.Errorf("node approved by key is %v, want STANDBY", got)
	}

	if _, err := m.UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: second.id, KubernetesWorker: &yes}); err != nil {
		t.Fatalf("grant worker: %v", err)
	}
	if _, err := m.UpdateNodeLabels(callCtx(t), &apb.UpdateNodeLabelsRequest{NodeId: second.id, Upsert: map[string]string{"rack": "r1", "zone": "a"}}); err != nil {
		t.Fatalf("set labels: %v", err)
	}
	if _, err := m.UpdateNodeLabels(callCtx(t), &apb.UpdateNodeLabelsRequest{NodeId: second.id, Remove: []string{"zone"}}); err != nil {
		t.Fatalf("remove label: %v", err)
	}
	n := c.node(second.id)
	if !n.GetRoles().GetKubernetesWorker() || n.GetRoles().GetConsensusMember() {
		t.Errorf("roles = %v, want kubernetes_worker only", n.GetRoles())
	}
	if len(n.GetLabels()) != 1 || n.GetLabels()["rack"] != "r1" {
		t.Errorf("labels = %v, want rack=r1", n.GetLabels())
	}

	_, err := m.DeleteNode(callCtx(t), &apb.DeleteNodeRequest{NodeId: second.id})
	expectCode(t, "delete a node with a role", err, codes.FailedPrecondition, "still holds kubernetes_worker")
	if _, err := m.DeleteNode(callCtx(t), &apb.DeleteNodeRequest{NodeId: second.id, SkipSafetyChecks: true}); err != nil {
		t.Fatalf("delete skipping safety checks: %v", err)
	}

	states := func(filter ...apb.NodeState) map[string]apb.NodeState {
		stream, err := m.GetNodes(callCtx(t), &apb.GetNodesRequest{States: filter})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]apb.NodeState{}
		for {
			n, err := stream.Recv()
			if err == io.EOF {
				return got
			}
			if err != nil {
				t.Fatalf("get nodes: %v", err)
			}
			got[n.GetId()] = n.GetState()
		}
	}
	all := states()
	if len(all) != 3 || all[c.first.id] != apb.NodeState_NODE_STATE_UP || all[second.id] != apb.NodeState_NODE_STATE_DECOMMISSIONED ||
		all[third.id] != apb.NodeState_NODE_STATE_STANDBY {
		t.Errorf("all nodes = %v, want the first UP, the second DECOMMISSIONED, the third STANDBY", all)
	}
	if up := states(apb.NodeState_NODE_STATE_UP); len(up) != 1 || up[c.first.id] == 0 {
		t.Errorf("UP nodes = %v, want only the first", up)
	}
}

// TestHeartbeatsDriveHealth runs a cluster with a short heartbeat timeout: a node that beats
// is HEALTHY, and once it stops it becomes HEARTBEAT_TIMEOUT; the first node, which never
// beats, is UNKNOWN during the leader's grace period and HEARTBEAT_TIMEOUT after it.
func TestHeartbeatsDriveHealth(t *testing.T) {
	const timeout = 3 * time.Second
	c := newTestCluster(t, timeout)
	if got := c.node(c.first.id).GetHealth(); got != apb.NodeHealth_NODE_HEALTH_UNKNOWN {
		t.Errorf("silent node right after the leader took over is %v, want UNKNOWN", got)
	}
	second := c.addNode("127.0.0.2")

	stream, err := cpb.NewCuratorClient(c.dial(second.cert)).Heartbeat(callCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&cpb.HeartbeatUpdateRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("heartbeat not answered: %v", err)
	}
	n := c.node(second.id)
	if n.GetHealth() != apb.NodeHealth_NODE_HEALTH_HEALTHY || n.GetTimeSinceHeartbeat() == nil {
		t.Errorf("node that just beat: health %v, time since heartbeat %v; want HEALTHY with a time", n.GetHealth(), n.GetTimeSinceHeartbeat())
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}

	waitForHealth(t, c, second.id, apb.NodeHealth_NODE_HEALTH_HEARTBEAT_TIMEOUT)
	waitForHealth(t, c, c.first.id, apb.NodeHealth_NODE_HEALTH_HEARTBEAT_TIMEOUT)
}

func waitForHealth(t *testing.T, c *testCluster, id string, want apb.NodeHealth) {
	t.Helper()
	deadline := time.Now().Add(callTimeout)
	var got apb.NodeHealth
	for time.Now().Before(deadline) {
		if got = c.node(id).GetHealth(); got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("node %s health stayed %v, want %v", id, got, want)
}

// TestWatchFollowsANode checks a node's watch of itself: its current state with the progress
// marker first, then every change, then a tombstone when it is deleted, and then the end.
func TestWatchFollowsANode(t *testing.T) {
	c := newTestCluster(t, 0)
	n := c.addNode("127.0.0.2")
	stream, err := cpb.NewCuratorClient(c.dial(n.cert)).Watch(callCtx(t), &cpb.WatchRequest{
		Kind: &cpb.WatchRequest_Node{Node: &cpb.WatchRequest_NodeInCluster{NodeId: n.id}}})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if ev.GetProgress() != cpb.WatchEvent_PROGRESS_LAST_BACKLOGGED || len(ev.GetNodes()) != 1 || ev.GetNodes()[0].GetId() != n.id {
		t.Fatalf("first event = %v, want the node and the backlog marker", ev)
	}

	yes := true
	if _, err := c.mgmt().UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: n.id, KubernetesWorker: &yes}); err != nil {
		t.Fatal(err)
	}
	ev, err = stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.GetNodes()) != 1 || ev.GetNodes()[0].GetRoles().GetKubernetesWorker() == nil {
		t.Fatalf("event after granting a role = %v, want the node with kubernetes_worker", ev)
	}

	if _, err := c.mgmt().DeleteNode(callCtx(t), &apb.DeleteNodeRequest{NodeId: n.id, SkipSafetyChecks: true}); err != nil {
		t.Fatal(err)
	}
	ev, err = stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.GetNodeTombstones()) != 1 || ev.GetNodeTombstones()[0].GetNodeId() != n.id {
		t.Fatalf("event after deletion = %v, want the node's tombstone", ev)
	}
	_, err = stream.Recv()
	expectCode(t, "the watch after the tombstone", err, codes.PermissionDenied, n.id+" was deleted")
}
