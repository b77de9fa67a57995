package e2e

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
)

// unknownNodeID is well-formed but names no node of any test cluster.
const unknownNodeID = "metropolis-0123456789abcdef"

// testBadRequests sends the owner's requests that are wrong in one way each, and checks that
// each is refused with the code that says how, with a message naming what is wrong, and that
// nothing stored changed.
func testBadRequests(t *testing.T, c *testCluster) {
	yes, no := true, false
	member := c.ids[0] // the first node, which bootstrapped the cluster: always a consensus member
	cases := []struct {
		name string
		call func(ctx context.Context) error
		want codes.Code
		// mentions is what the message must name: the field or the node that is wrong.
		mentions string
	}{
		{"reading an unknown node", func(ctx context.Context) error {
			_, err := c.mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: unknownNodeID})
			return err
		}, codes.NotFound, unknownNodeID},
		{"approving an unknown node", func(ctx context.Context) error {
			_, err := c.mgmt.ApproveNode(ctx, &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_NodeId{NodeId: unknownNodeID}})
			return err
		}, codes.NotFound, unknownNodeID},
		{"reading a malformed node ID", func(ctx context.Context) error {
			_, err := c.mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: "node-2"})
			return err
		}, codes.InvalidArgument, "node_id"},
		{"labelling a malformed node ID", func(ctx context.Context) error {
			_, err := c.mgmt.UpdateNodeLabels(ctx, &apb.UpdateNodeLabelsRequest{NodeId: strings.ToUpper(member), Upsert: map[string]string{"a": "b"}})
			return err
		}, codes.InvalidArgument, "node_id"},
		{"granting kubernetes_controller while revoking consensus_member", func(ctx context.Context) error {
			_, err := c.mgmt.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: member, KubernetesController: &yes, ConsensusMember: &no})
			return err
		}, codes.InvalidArgument, "kubernetes_controller"},
		{"approving a malformed public key", func(ctx context.Context) error {
			_, err := c.mgmt.ApproveNode(ctx, &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_PublicKey{PublicKey: []byte("not a key")}})
			return err
		}, codes.InvalidArgument, "public_key"},
		{"setting an invalid label", func(ctx context.Context) error {
			_, err := c.mgmt.UpdateNodeLabels(ctx, &apb.UpdateNodeLabelsRequest{NodeId: member, Upsert: map[string]string{"not a key!": "v"}})
			return err
		}, codes.InvalidArgument, "not a key!"},
		{"a megabyte of node ID", func(ctx context.Context) error {
			_, err := c.mgmt.DeleteNode(ctx, &apb.DeleteNodeRequest{NodeId: "metropolis-" + strings.Repeat("f", 1<<20)})
			return err
		}, codes.InvalidArgument, "node_id"},
		{"deleting a node that holds roles", func(ctx context.Context) error {
			_, err := c.mgmt.DeleteNode(ctx, &apb.DeleteNodeRequest{NodeId: member})
			return err
		}, codes.FailedPrecondition, "consensus_member"},
	}

	ctx := callContext(t)
	before, err := c.snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(callContext(t))
			s := status.Convert(err)
			if s.Code() != tc.want {
				t.Fatalf("got %v (%v), want %v", s.Code(), err, tc.want)
			}
			if !strings.Contains(s.Message(), tc.mentions) {
				t.Errorf("message %.300q does not name %q", s.Message(), tc.mentions)
			}
			// Errors quote what they refuse, a bounded prefix of it.
			if len(s.Message()) > 400 {
				t.Errorf("message of %d bytes: %.200q…", len(s.Message()), s.Message())
			}
		})
	}
	after, err := c.snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := diffSnapshots(before, after); err != nil {
		t.Errorf("refused requests changed the cluster: %v", err)
	}
}
