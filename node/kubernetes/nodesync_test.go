package kubernetes

import (
	"reflect"
	"testing"
)

func TestRoleLabelPatch(t *testing.T) {
	empty := ""
	for _, tc := range []struct {
		name   string
		labels map[string]string
		roles  nodeRoles
		want   map[string]*string
	}{
		{"a plain worker has none", map[string]string{"kubernetes.io/hostname": "n"}, nodeRoles{worker: true}, nil},
		{"a controller and consensus member gets both", nil, nodeRoles{worker: true, controller: true, consensus: true},
			map[string]*string{LabelControlPlane: &empty, LabelEtcd: &empty}},
		{"labels in place: nothing to do", map[string]string{LabelControlPlane: ""}, nodeRoles{worker: true, controller: true}, nil},
		{"a revoked role loses its label", map[string]string{LabelControlPlane: "", LabelEtcd: "", "team": "a"}, nodeRoles{worker: true, consensus: true},
			map[string]*string{LabelControlPlane: nil}},
		{"a label with a value is set to empty", map[string]string{LabelEtcd: "true"}, nodeRoles{worker: true, consensus: true},
			map[string]*string{LabelEtcd: &empty}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := roleLabelPatch(tc.labels, tc.roles); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("roleLabelPatch = %v, want %v", describePatch(got), describePatch(tc.want))
			}
		})
	}
}
