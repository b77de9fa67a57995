package curator

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

// TestErrorsBoundWhatTheyEcho sends every method that takes a node ID (and the other strings
// the curator quotes back) a megabyte where a few dozen bytes belong, and checks that each is
// refused as invalid with an error that names the field but repeats at most a short prefix.
func TestErrorsBoundWhatTheyEcho(t *testing.T) {
	c := newTestCluster(t, 0)
	n := c.addNode("127.0.0.2")
	huge := "metropolis-" + strings.Repeat("x", 1<<20)
	mgmt := c.mgmt()
	asNode := cpb.NewCuratorClient(c.dial(n.cert))
	calls := map[string]func() error{
		"GetNode": func() error {
			_, err := mgmt.GetNode(callCtx(t), &apb.GetNodeRequest{NodeId: huge})
			return err
		},
		"ApproveNode": func() error {
			_, err := mgmt.ApproveNode(callCtx(t), &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_NodeId{NodeId: huge}})
			return err
		},
		"DeleteNode": func() error {
			_, err := mgmt.DeleteNode(callCtx(t), &apb.DeleteNodeRequest{NodeId: huge})
			return err
		},
		"UpdateNodeRoles": func() error {
			_, err := mgmt.UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: huge})
			return err
		},
		"UpdateNodeLabels node_id": func() error {
			_, err := mgmt.UpdateNodeLabels(callCtx(t), &apb.UpdateNodeLabelsRequest{NodeId: huge})
			return err
		},
		"UpdateNodeLabels key": func() error {
			_, err := mgmt.UpdateNodeLabels(callCtx(t), &apb.UpdateNodeLabelsRequest{NodeId: n.id, Upsert: map[string]string{huge: "v"}})
			return err
		},
		"UpdateNodeLabels value": func() error {
			_, err := mgmt.UpdateNodeLabels(callCtx(t), &apb.UpdateNodeLabelsRequest{NodeId: n.id, Upsert: map[string]string{"k": huge}})
			return err
		},
		"JoinNode": func() error {
			_, err := cpb.NewCuratorClient(c.dial(selfSigned(t, n.key))).JoinNode(callCtx(t), &cpb.JoinNodeRequest{NodeId: huge})
			return err
		},
		"Watch": func() error {
			w, err := asNode.Watch(callCtx(t), &cpb.WatchRequest{Kind: &cpb.WatchRequest_Node{Node: &cpb.WatchRequest_NodeInCluster{NodeId: huge}}})
			if err != nil {
				return err
			}
			_, err = w.Recv()
			return err
		},
		"Escrow": func() error {
			stream, err := apb.NewAAAClient(c.dial(selfSigned(t, c.ownerKey))).Escrow(callCtx(t))
			if err != nil {
				return err
			}
			if err := stream.Send(&apb.EscrowFromClient{Parameters: &apb.EscrowFromClient_Parameters{RequestedIdentity: huge}}); err != nil {
				return err
			}
			_, err = stream.Recv()
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			st := status.Convert(err)
			if err == nil || st.Code() != codes.InvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
			if len(st.Message()) > 400 {
				t.Errorf("the error repeats %d bytes of a %d-byte input: %.200s…", len(st.Message()), len(huge), st.Message())
			}
			if !strings.Contains(st.Message(), "metropolis-xxxx") {
				t.Errorf("error %q does not show the start of what was wrong", st.Message())
			}
		})
	}
}
