package qemu

import (
	"slices"
	"strings"
	"testing"
)

func TestChooseShape(t *testing.T) {
	kvm := Accel{KVM: true, Reason: "KVM"}
	tcg := Accel{Reason: "no usable /dev/kvm"}
	for _, tc := range []struct {
		name    string
		host    Host
		nodes   int
		want    Shape
		whySays string
	}{
		{"KVM on 2 cores: three full nodes", Host{kvm, 2, 24 << 10}, 0,
			Shape{Nodes: 3, CPUs: 2, MemoryMiB: 2048, Workers: []int{1, 2, 3}}, "KVM"},
		{"emulated on 2 cores: one vCPU each, pods on node 2", Host{tcg, 2, 24 << 10}, 0,
			Shape{Nodes: 3, CPUs: 1, MemoryMiB: 2048, Workers: []int{2}}, "no usable /dev/kvm"},
		{"emulated on 8 cores: a core per vCPU", Host{tcg, 8, 24 << 10}, 3,
			Shape{Nodes: 3, CPUs: 2, MemoryMiB: 2048, Workers: []int{1, 2, 3}}, "8 cores"},
		{"emulated, one node: it runs pods itself", Host{tcg, 1, 24 << 10}, 1,
			Shape{Nodes: 1, CPUs: 1, MemoryMiB: 2048, Workers: []int{1}}, "pods on node 1"},
		{"small host: VMs take at most half its memory", Host{kvm, 4, 6 << 10}, 3,
			Shape{Nodes: 3, CPUs: 2, MemoryMiB: 1024, Workers: []int{1, 2, 3}}, "1024 MiB"},
		{"unknown memory keeps the default", Host{kvm, 4, 0}, 2,
			Shape{Nodes: 2, CPUs: 2, MemoryMiB: 2048, Workers: []int{1, 2}}, "2 VMs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ChooseShape(tc.host, tc.nodes)
			if got.Nodes != tc.want.Nodes || got.CPUs != tc.want.CPUs || got.MemoryMiB != tc.want.MemoryMiB || !slices.Equal(got.Workers, tc.want.Workers) {
				t.Errorf("ChooseShape = %+v, want %+v", got, tc.want)
			}
			if !strings.Contains(got.Why, tc.whySays) {
				t.Errorf("why %q does not say %q", got.Why, tc.whySays)
			}
		})
	}
}
