package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"k8s.io/apimachinery/pkg/api/resource"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/kubectl"
	"metropolis.dev/metropolis/osbase/eventually"
)

// configTimeout bounds how long a configuration change takes to show on a Node under TCG: a
// kubelet restart (reservations) and the controllers' next sync.
const configTimeout = 4 * time.Minute

// nodeView is what the test reads of a Kubernetes Node.
type nodeView struct {
	labels      map[string]string
	taints      []string // key=value:effect
	allocatable resource.Quantity
}

func readNode(k *kubectl.Kubectl, id string) (nodeView, error) {
	out, err := k.Run("", "get", "node", id, "-o", "json")
	if err != nil {
		return nodeView{}, err
	}
	var n struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Taints []struct{ Key, Value, Effect string } `json:"taints"`
		} `json:"spec"`
		Status struct {
			Allocatable map[string]string `json:"allocatable"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &n); err != nil {
		return nodeView{}, fmt.Errorf("node %s: %w", id, err)
	}
	v := nodeView{labels: n.Metadata.Labels}
	for _, t := range n.Spec.Taints {
		v.taints = append(v.taints, t.Key+"="+t.Value+":"+t.Effect)
	}
	if v.allocatable, err = resource.ParseQuantity(n.Status.Allocatable["memory"]); err != nil {
		return v, fmt.Errorf("node %s allocatable memory: %w", id, err)
	}
	return v, nil
}

// testNodeConfiguration: the labels and taints of a node's configuration, and of the cluster's
// rules, appear on the Kubernetes Node; a system reservation shrinks its allocatable memory
// (the kubelet restarted with it); removing them takes them all away again, and labels set by
// hand stay.
func testNodeConfiguration(t *testing.T, ctx context.Context, mgmt apb.ManagementClient, k *kubectl.Kubectl, id string) {
	before, err := readNode(k, id)
	if err != nil {
		t.Fatal(err)
	}
	must(t, k, "", "label", "node", id, "example.com/by-hand=yes")
	cfg := &apb.NodeConfiguration{
		Kubernetes: &apb.KubernetesNodeConfiguration{
			Labels: map[string]string{"example.com/rack": "r1"},
			Taints: []*apb.Taint{{Key: "example.com/dedicated", Value: "test", Effect: "PreferNoSchedule"}},
		},
		Kubelet: &apb.KubeletConfiguration{SystemReserved: map[string]string{"memory": "256Mi"}},
	}
	res, err := mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: id, Configuration: cfg})
	if err != nil {
		t.Fatalf("configure node %s: %v", id, err)
	}
	rules := &apb.ClusterConfiguration{NodeDefaults: &apb.NodeDefaults{KubernetesRules: []*apb.KubernetesNodeRule{{
		Kubernetes: &apb.KubernetesNodeConfiguration{Labels: map[string]string{"example.com/site": "lab"}},
	}}}}
	mask := &fieldmaskpb.FieldMask{Paths: []string{"node_defaults.kubernetes_rules"}}
	cres, err := mgmt.ConfigureCluster(ctx, &apb.ConfigureClusterRequest{Configuration: rules, UpdateMask: mask})
	if err != nil {
		t.Fatalf("configure the cluster: %v", err)
	}
	reserved := resource.MustParse("256Mi")
	d := eventually.Pass(t, configTimeout, "the Node's labels, taint and reservation from its configuration", func(context.Context) error {
		v, err := readNode(k, id)
		if err != nil {
			return err
		}
		if v.labels["example.com/rack"] != "r1" || v.labels["example.com/site"] != "lab" || v.labels["example.com/by-hand"] != "yes" {
			return fmt.Errorf("labels %v", v.labels)
		}
		if !strings.Contains(strings.Join(v.taints, " "), "example.com/dedicated=test:PreferNoSchedule") {
			return fmt.Errorf("taints %v", v.taints)
		}
		want := before.allocatable.DeepCopy()
		want.Sub(reserved)
		if v.allocatable.Cmp(want) != 0 {
			return fmt.Errorf("allocatable memory %s, want %s (%s less)", v.allocatable.String(), want.String(), reserved.String())
		}
		return nil
	})
	t.Logf("configuration → labels, taint and reservation on the Node: %.1fs", d.Seconds())

	if _, err := mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: id, ExpectedVersion: res.GetStored().GetVersion()}); err != nil {
		t.Fatalf("clear node %s's configuration: %v", id, err)
	}
	if _, err := mgmt.ConfigureCluster(ctx, &apb.ConfigureClusterRequest{Configuration: &apb.ClusterConfiguration{}, UpdateMask: mask, ExpectedVersion: cres.GetStored().GetVersion()}); err != nil {
		t.Fatalf("clear the cluster's rules: %v", err)
	}
	d = eventually.Pass(t, configTimeout, "the configured labels, taint and reservation gone, the hand-set label kept", func(context.Context) error {
		v, err := readNode(k, id)
		if err != nil {
			return err
		}
		for _, l := range []string{"example.com/rack", "example.com/site"} {
			if _, has := v.labels[l]; has {
				return fmt.Errorf("label %s still there", l)
			}
		}
		if v.labels["example.com/by-hand"] != "yes" {
			return fmt.Errorf("the hand-set label is gone: %v", v.labels)
		}
		if strings.Contains(strings.Join(v.taints, " "), "example.com/dedicated") {
			return fmt.Errorf("taints %v", v.taints)
		}
		if v.allocatable.Cmp(before.allocatable) != 0 {
			return fmt.Errorf("allocatable memory %s, want %s again", v.allocatable.String(), before.allocatable.String())
		}
		return nil
	})
	t.Logf("configuration cleared → Node as before: %.1fs", d.Seconds())
	must(t, k, "", "label", "node", id, "example.com/by-hand-")
}
