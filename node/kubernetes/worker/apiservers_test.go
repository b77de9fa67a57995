package worker

import (
	"slices"
	"testing"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/curator/upnodes"
)

func TestControllerEndpoints(t *testing.T) {
	controller := &cpb.NodeRoles{KubernetesController: &cpb.KubernetesController{}}
	worker := &cpb.NodeRoles{KubernetesWorker: &cpb.KubernetesWorker{}}
	nodes := upnodes.Set{
		"b": {Id: "b", Roles: controller, Status: &apb.NodeStatus{ExternalAddress: "10.0.0.2"}},
		"a": {Id: "a", Roles: controller, Status: &apb.NodeStatus{ExternalAddress: "10.0.0.1"}},
		"w": {Id: "w", Roles: worker, Status: &apb.NodeStatus{ExternalAddress: "10.0.0.3"}},
		"n": {Id: "n", Roles: controller}, // never reported an address
		"6": {Id: "6", Roles: controller, Status: &apb.NodeStatus{ExternalAddress: "2001:db8::1"}},
	}
	want := []string{"10.0.0.1:6443", "10.0.0.2:6443", "[2001:db8::1]:6443"}
	if got := controllerEndpoints(nodes); !slices.Equal(got, want) {
		t.Errorf("controllerEndpoints = %q, want %q", got, want)
	}
}
