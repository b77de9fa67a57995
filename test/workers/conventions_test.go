package workers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/grow"
	"metropolis.dev/metropolis/launch/kubectl"
	"metropolis.dev/metropolis/osbase/eventually"
)

// testConventions checks what charts and tools expect of a cluster: each Node reports the OS
// image from the image's os-release, nodes carry node-role labels for their cluster roles, and
// kube-system has a kube-dns Service at 10.96.0.10.
func testConventions(t *testing.T, ctx context.Context, mgmt apb.ManagementClient, k *kubectl.Kubectl) {
	nodes, err := grow.ListNodes(ctx, mgmt)
	if err != nil {
		t.Fatal(err)
	}
	eventually.Pass(t, 2*time.Minute, "OS image and role labels on every Node", func(context.Context) error {
		for _, n := range nodes {
			out, err := k.Run("", "get", "node", n.Id, "-o", `jsonpath={.status.nodeInfo.osImage}|{.metadata.labels}`)
			if err != nil {
				return err
			}
			image, labels, _ := strings.Cut(out, "|")
			if !strings.HasPrefix(image, "Metropolis ") {
				return fmt.Errorf("node %s reports OS image %q, want Metropolis <version>", n.Id, image)
			}
			for label, want := range map[string]bool{
				"node-role.kubernetes.io/control-plane": n.Roles.GetKubernetesController(),
				"node-role.kubernetes.io/etcd":          n.Roles.GetConsensusMember(),
			} {
				if has := strings.Contains(labels, `"`+label+`"`); has != want {
					return fmt.Errorf("node %s: label %s present=%v, want %v (labels %s)", n.Id, label, has, want, labels)
				}
			}
		}
		return nil
	})
	out := must(t, k, "", "get", "service", "-n", "kube-system", "kube-dns", "-o", `jsonpath={.spec.clusterIP} {.spec.ports[*].name}`)
	if out != "10.96.0.10 dns dns-tcp" {
		t.Errorf("kube-dns Service: %q, want ClusterIP 10.96.0.10 with ports dns and dns-tcp", out)
	}
	t.Logf("nodes: %s", must(t, k, "", "get", "nodes", "-o", "wide"))
}

// logElections logs how often the controller-manager's and scheduler's leases changed hands
// since the cluster was launched (docs/benchmarks.md records it): each change is an election,
// and on a cluster with one controller each one means a component lost its lease and
// restarted.
func logElections(t *testing.T, k *kubectl.Kubectl, launched time.Time) {
	for _, lease := range []string{"kube-controller-manager", "kube-scheduler"} {
		out, err := k.Run("", "get", "lease", "-n", "kube-system", lease, "-o", "jsonpath={.spec.leaseTransitions} {.spec.leaseDurationSeconds}")
		if err != nil {
			t.Logf("lease %s: %v", lease, err)
			continue
		}
		t.Logf("lease %s: transitions and lease seconds %q, %.1f min after the cluster was launched",
			lease, strings.TrimSpace(out), time.Since(launched).Minutes())
	}
}
