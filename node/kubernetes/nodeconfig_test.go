package kubernetes

import (
	"encoding/json"
	"testing"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestConfigurationPatch(t *testing.T) {
	node := func(labels, annotations map[string]string, taints ...kubeTaint) kubeNode {
		var n kubeNode
		n.Metadata.Name = "metropolis-0123456789abcdef"
		n.Metadata.ResourceVersion = "42"
		n.Metadata.Labels = labels
		n.Metadata.Annotations = annotations
		n.Spec.Taints = taints
		return n
	}
	notReady := kubeTaint{Key: "node.kubernetes.io/not-ready", Effect: "NoSchedule"}
	gpu := &apb.Taint{Key: "gpu", Value: "a", Effect: "NoSchedule"}
	for _, tc := range []struct {
		name string
		node kubeNode
		want *apb.KubernetesNodeConfiguration
		// patch is the expected merge patch as JSON; "" for none.
		patch string
	}{
		{
			name:  "nothing configured, nothing there",
			node:  node(map[string]string{"kubernetes.io/hostname": "x"}, nil, notReady),
			patch: "",
		},
		{
			name: "first configuration: labels, a taint beside the controllers' own, the record of both",
			node: node(map[string]string{"kubectl-set": "yes"}, nil, notReady),
			want: &apb.KubernetesNodeConfiguration{Labels: map[string]string{"rack": "r1"}, Taints: []*apb.Taint{gpu}},
			patch: `{"metadata":{"annotations":{"node.metropolis.dev/configured-labels":"rack","node.metropolis.dev/configured-taints":"gpu:NoSchedule"},` +
				`"labels":{"rack":"r1"},"resourceVersion":"42"},` +
				`"spec":{"taints":[{"key":"node.kubernetes.io/not-ready","effect":"NoSchedule"},{"key":"gpu","value":"a","effect":"NoSchedule"}]}}`,
		},
		{
			name: "as configured: no patch",
			node: node(map[string]string{"rack": "r1", "kubectl-set": "yes"},
				map[string]string{AnnotationConfiguredLabels: "rack", AnnotationConfiguredTaints: "gpu:NoSchedule"},
				notReady, kubeTaint{Key: "gpu", Value: "a", Effect: "NoSchedule"}),
			want: &apb.KubernetesNodeConfiguration{Labels: map[string]string{"rack": "r1"}, Taints: []*apb.Taint{gpu}},
		},
		{
			name: "removed from the configuration: removed from the Node, kubectl's own stay",
			node: node(map[string]string{"rack": "r1", "kubectl-set": "yes"},
				map[string]string{AnnotationConfiguredLabels: "rack", AnnotationConfiguredTaints: "gpu:NoSchedule"},
				notReady, kubeTaint{Key: "gpu", Value: "a", Effect: "NoSchedule"}, kubeTaint{Key: "kubectl", Effect: "NoExecute", TimeAdded: "2026-12-07T12:00:00Z"}),
			want: nil,
			patch: `{"metadata":{"annotations":{"node.metropolis.dev/configured-labels":null,"node.metropolis.dev/configured-taints":null},` +
				`"labels":{"rack":null},"resourceVersion":"42"},` +
				`"spec":{"taints":[{"key":"node.kubernetes.io/not-ready","effect":"NoSchedule"},{"key":"kubectl","effect":"NoExecute","timeAdded":"2026-12-07T12:00:00Z"}]}}`,
		},
		{
			name: "a value changes; a label an operator set by hand is taken over",
			node: node(map[string]string{"rack": "r1", "zone": "manual"},
				map[string]string{AnnotationConfiguredLabels: "rack", AnnotationConfiguredTaints: "gpu:NoSchedule"},
				kubeTaint{Key: "gpu", Value: "a", Effect: "NoSchedule"}),
			want: &apb.KubernetesNodeConfiguration{Labels: map[string]string{"rack": "r2", "zone": "z"}, Taints: []*apb.Taint{{Key: "gpu", Value: "b", Effect: "NoSchedule"}}},
			patch: `{"metadata":{"annotations":{"node.metropolis.dev/configured-labels":"rack,zone"},` +
				`"labels":{"rack":"r2","zone":"z"},"resourceVersion":"42"},` +
				`"spec":{"taints":[{"key":"gpu","value":"b","effect":"NoSchedule"}]}}`,
		},
		{
			name:  "the last taint goes: an empty list, not null",
			node:  node(nil, map[string]string{AnnotationConfiguredTaints: "gpu:NoSchedule"}, kubeTaint{Key: "gpu", Value: "a", Effect: "NoSchedule"}),
			patch: `{"metadata":{"annotations":{"node.metropolis.dev/configured-taints":null},"resourceVersion":"42"},"spec":{"taints":[]}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			patch := configurationPatch(tc.node, tc.want)
			if tc.patch == "" {
				if patch != nil {
					t.Fatalf("got patch %v, want none", patch)
				}
				return
			}
			got, err := json.Marshal(patch)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.patch {
				t.Errorf("patch\n got %s\nwant %s", got, tc.patch)
			}
		})
	}
}
