package workers

import (
	"context"
	"sort"
	"testing"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/grow"
	"metropolis.dev/metropolis/launch/kubectl"
)

// newKubectl returns the upstream kubectl as the cluster owner.
func newKubectl(t *testing.T, ctx context.Context, mgmt apb.ManagementClient) *kubectl.Kubectl {
	t.Helper()
	k, err := kubectl.Owner(ctx, mgmt, kube, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// must runs kubectl and fails the test on error.
func must(t *testing.T, k *kubectl.Kubectl, stdin string, args ...string) string {
	t.Helper()
	out, err := k.Run(stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// nodeIDs lists the cluster's nodes, sorted.
func nodeIDs(t *testing.T, ctx context.Context, mgmt apb.ManagementClient) []string {
	t.Helper()
	nodes, err := grow.ListNodes(ctx, mgmt)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range nodes {
		ids = append(ids, n.Id)
	}
	sort.Strings(ids)
	return ids
}
