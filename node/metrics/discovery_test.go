package metrics

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiscoveryDocument(t *testing.T) {
	members := []Member{
		{ID: "metropolis-bb", Address: "10.0.0.2", Roles: []string{"KubernetesWorker"}},
		{ID: "metropolis-aa", Address: "10.0.0.1", Roles: []string{"KubernetesController", "ConsensusMember"}},
		{ID: "metropolis-cc", Address: ""}, // never reported an address: cannot be scraped
	}
	group := func(addr, id, roles, component string) targetGroup {
		return targetGroup{Targets: []string{addr + ":7837"}, Labels: map[string]string{
			"__scheme__": "https", "__metrics_path__": "/metrics/" + component,
			"node_id": id, "node_roles": roles, "component": component,
		}}
	}
	want := []targetGroup{
		group("10.0.0.1", "metropolis-aa", "ConsensusMember,KubernetesController", "node"),
		group("10.0.0.1", "metropolis-aa", "ConsensusMember,KubernetesController", "system"),
		group("10.0.0.1", "metropolis-aa", "ConsensusMember,KubernetesController", "etcd"),
		group("10.0.0.1", "metropolis-aa", "ConsensusMember,KubernetesController", "apiserver"),
		group("10.0.0.1", "metropolis-aa", "ConsensusMember,KubernetesController", "controller-manager"),
		group("10.0.0.1", "metropolis-aa", "ConsensusMember,KubernetesController", "scheduler"),
		group("10.0.0.2", "metropolis-bb", "KubernetesWorker", "node"),
		group("10.0.0.2", "metropolis-bb", "KubernetesWorker", "system"),
		group("10.0.0.2", "metropolis-bb", "KubernetesWorker", "kubelet"),
		group("10.0.0.2", "metropolis-bb", "KubernetesWorker", "cadvisor"),
		group("10.0.0.2", "metropolis-bb", "KubernetesWorker", "containerd"),
	}
	if diff := cmp.Diff(want, discoveryDocument(members)); diff != "" {
		t.Errorf("document (-want +got):\n%s", diff)
	}
	if members[0].ID != "metropolis-bb" {
		t.Error("the caller's slice was reordered")
	}
	data, err := marshalDiscovery(nil)
	if err != nil || string(data) != "[]" {
		t.Errorf("no members: %s, %v; want []", data, err)
	}
	data, err = marshalDiscovery(members)
	if err != nil {
		t.Fatal(err)
	}
	var decoded []targetGroup
	if err := json.Unmarshal(data, &decoded); err != nil || len(decoded) != len(want) {
		t.Errorf("the document does not read back as %d groups: %v", len(want), err)
	}
}
