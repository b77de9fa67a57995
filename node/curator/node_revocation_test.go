package curator

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

// TestDeletedNodeLosesItsStreams opens every long-lived call a node makes, deletes the node,
// and checks that each ends promptly with codes.PermissionDenied saying the node was deleted,
// the watches right after the event carrying the node's own tombstone.
func TestDeletedNodeLosesItsStreams(t *testing.T) {
	c := newTestCluster(t, 0)
	n := c.addNode("127.0.0.2")
	cur := cpb.NewCuratorClient(c.dial(n.cert))
	// Generous, yet far shorter than an unended stream would run: a stream still open at the
	// deadline ends with DeadlineExceeded and fails the test.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	self, err := cur.Watch(ctx, &cpb.WatchRequest{Kind: &cpb.WatchRequest_Node{Node: &cpb.WatchRequest_NodeInCluster{NodeId: n.id}}})
	if err != nil {
		t.Fatal(err)
	}
	up, err := cur.Watch(ctx, &cpb.WatchRequest{Kind: &cpb.WatchRequest_UpNodes{UpNodes: &cpb.WatchRequest_NodesInCluster{}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []cpb.Curator_WatchClient{self, up} {
		if _, err := w.Recv(); err != nil {
			t.Fatalf("first watch event: %v", err)
		}
	}
	beat, err := cur.Heartbeat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := beat.Send(&cpb.HeartbeatUpdateRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := beat.Recv(); err != nil {
		t.Fatalf("heartbeat not answered: %v", err)
	}

	if _, err := c.mgmt().DeleteNode(callCtx(t), &apb.DeleteNodeRequest{NodeId: n.id}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	deleted := "node " + n.id + " was deleted"
	for name, w := range map[string]cpb.Curator_WatchClient{"the watch of itself": self, "the watch of UP nodes": up} {
		ev, err := w.Recv()
		if err != nil {
			t.Fatalf("%s: %v, want the node's tombstone first", name, err)
		}
		if len(ev.GetNodeTombstones()) != 1 || ev.GetNodeTombstones()[0].GetNodeId() != n.id {
			t.Fatalf("%s: event %v, want the node's tombstone", name, ev)
		}
		_, err = w.Recv()
		expectCode(t, name+" after the deletion", err, codes.PermissionDenied, deleted)
	}
	_, err = beat.Recv()
	expectCode(t, "the heartbeat after the deletion", err, codes.PermissionDenied, deleted)
}

func TestCheckCaller(t *testing.T) {
	for _, c := range []struct {
		name    string
		node    *cpb.NodeRecord
		code    codes.Code
		message string
	}{
		{"an UP node may call", record(t, stUp, nil), codes.OK, ""},
		{"a deleted node may not", record(t, stGone, nil), codes.PermissionDenied, "was deleted"},
		{"a node not yet committed may not", record(t, stStandby, nil), codes.PermissionDenied, "node is STANDBY, not UP"},
		{"an unknown node may not", nil, codes.PermissionDenied, "not known to this cluster"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := c.node.GetId()
			if id == "" {
				id = newTestNode(t, "127.0.0.2").id
			}
			err := checkCaller("issue certificate for", id, c.node)
			expectCode(t, "checkCaller", err, c.code, c.message)
			if err != nil {
				expectCode(t, "checkCaller", err, c.code, "issue certificate for node "+id)
			}
		})
	}
}
