package kubernetes

import (
	"maps"
	"slices"
	"strings"

	apb "metropolis.dev/metropolis/api/v1"
)

// Annotations on a Kubernetes Node naming the labels and taints the cluster's configuration
// put there, so that the cluster removes those it no longer wants and never touches the ones
// an operator set with kubectl.
const (
	AnnotationConfiguredLabels = "node.metropolis.dev/configured-labels"
	AnnotationConfiguredTaints = "node.metropolis.dev/configured-taints"
)

// kubeTaint is a Node taint as the Kubernetes API has it.
type kubeTaint struct {
	Key       string `json:"key"`
	Value     string `json:"value,omitempty"`
	Effect    string `json:"effect"`
	TimeAdded string `json:"timeAdded,omitempty"`
}

func taintID(key, effect string) string { return key + ":" + effect }

// configurationPatch is the merge patch that gives a Node the labels and taints of want (the
// node's effective Kubernetes configuration), removing those the configuration set before
// (the annotations) and no longer wants; nil if the Node is as wanted. The patch holds the
// Node's resourceVersion, so the apiserver applies it only to the Node it was computed from:
// the taint list is replaced whole, and a taint the Kubernetes controllers add meanwhile must
// not be lost.
func configurationPatch(n kubeNode, want *apb.KubernetesNodeConfiguration) map[string]any {
	prevLabels := splitList(n.Metadata.Annotations[AnnotationConfiguredLabels])
	prevTaints := splitList(n.Metadata.Annotations[AnnotationConfiguredTaints])

	labels := map[string]any{}
	for k, v := range want.GetLabels() {
		if have, ok := n.Metadata.Labels[k]; !ok || have != v {
			labels[k] = v
		}
	}
	for _, k := range prevLabels {
		if _, still := want.GetLabels()[k]; !still {
			if _, has := n.Metadata.Labels[k]; has {
				labels[k] = nil
			}
		}
	}

	wantTaints := map[string]*apb.Taint{}
	for _, t := range want.GetTaints() {
		wantTaints[taintID(t.GetKey(), t.GetEffect())] = t
	}
	var taints []kubeTaint
	for _, t := range n.Spec.Taints {
		id := taintID(t.Key, t.Effect)
		if _, wanted := wantTaints[id]; wanted {
			continue // replaced below with the configured value
		}
		if slices.Contains(prevTaints, id) {
			continue // the configuration set it and no longer wants it
		}
		taints = append(taints, t)
	}
	for _, id := range slices.Sorted(maps.Keys(wantTaints)) {
		t := wantTaints[id]
		kt := kubeTaint{Key: t.GetKey(), Value: t.GetValue(), Effect: t.GetEffect()}
		for _, have := range n.Spec.Taints {
			if taintID(have.Key, have.Effect) == id && have.Value == kt.Value {
				kt.TimeAdded = have.TimeAdded
			}
		}
		taints = append(taints, kt)
	}
	taintsChanged := !slices.Equal(taints, n.Spec.Taints)

	annotations := map[string]any{}
	setList := func(name string, ids []string) {
		joined := strings.Join(ids, ",")
		if n.Metadata.Annotations[name] == joined {
			return
		}
		if joined == "" {
			annotations[name] = nil
		} else {
			annotations[name] = joined
		}
	}
	setList(AnnotationConfiguredLabels, slices.Sorted(maps.Keys(want.GetLabels())))
	setList(AnnotationConfiguredTaints, slices.Sorted(maps.Keys(wantTaints)))

	if len(labels) == 0 && !taintsChanged && len(annotations) == 0 {
		return nil
	}
	meta := map[string]any{"resourceVersion": n.Metadata.ResourceVersion}
	if len(labels) > 0 {
		meta["labels"] = labels
	}
	if len(annotations) > 0 {
		meta["annotations"] = annotations
	}
	patch := map[string]any{"metadata": meta}
	if taintsChanged {
		if taints == nil {
			taints = []kubeTaint{}
		}
		patch["spec"] = map[string]any{"taints": taints}
	}
	return patch
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
