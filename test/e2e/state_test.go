package e2e

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
)

// writeTestState gives every node labels and changes roles, so that a test can check that
// they survive: node i gets labels e2e/node=i and e2e/zone=zone-i, node 2 the Kubernetes
// controller and worker roles, the last node the worker role.
func writeTestState(t *testing.T, ctx context.Context, c *testCluster) {
	t.Helper()
	for i, id := range c.ids {
		if _, err := c.mgmt.UpdateNodeLabels(ctx, &apb.UpdateNodeLabelsRequest{
			NodeId: id,
			Upsert: map[string]string{"e2e/node": fmt.Sprint(i + 1), "e2e/zone": fmt.Sprintf("zone-%d", i+1)},
		}); err != nil {
			t.Fatalf("label node %d: %v", i+1, err)
		}
	}
	yes := true
	if _, err := c.mgmt.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: c.ids[1], KubernetesController: &yes, KubernetesWorker: &yes}); err != nil {
		t.Fatalf("grant Kubernetes roles to node 2: %v", err)
	}
	if _, err := c.mgmt.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: c.ids[len(c.ids)-1], KubernetesWorker: &yes}); err != nil {
		t.Fatalf("grant the worker role to node %d: %v", len(c.ids), err)
	}
}

// nodeState is what of a node must survive failures: its labels and roles.
type nodeState struct {
	Labels map[string]string
	Roles  *apb.NodeRoles
}

// snapshot reads the lasting state of every node, by node ID.
func (c *testCluster) snapshot(ctx context.Context) (map[string]nodeState, error) {
	nodes, err := listNodes(ctx, c.mgmt)
	if err != nil {
		return nil, err
	}
	out := map[string]nodeState{}
	for _, n := range nodes {
		out[n.Id] = nodeState{Labels: n.Labels, Roles: n.Roles}
	}
	return out, nil
}

// diffSnapshots says how got differs from want, or nil if it does not.
func diffSnapshots(want, got map[string]nodeState) error {
	for id := range got {
		if _, ok := want[id]; !ok {
			return fmt.Errorf("node %s appeared", id)
		}
	}
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			return fmt.Errorf("node %s is gone", id)
		case !maps.Equal(g.Labels, w.Labels):
			return fmt.Errorf("node %s has labels %v, want %v", id, g.Labels, w.Labels)
		case !proto.Equal(g.Roles, w.Roles):
			return fmt.Errorf("node %s has roles {%v}, want {%v}", id, g.Roles, w.Roles)
		}
	}
	return nil
}
