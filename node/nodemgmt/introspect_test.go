package nodemgmt

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestPodUID(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"/kubepods/burstable/pod0f6a3c2e-4b1d-4e8a-9c3f-2d5e6f7a8b9c/cri-containerd-abc", "0f6a3c2e-4b1d-4e8a-9c3f-2d5e6f7a8b9c"},
		{"/kubepods/pod0f6a3c2e-4b1d-4e8a-9c3f-2d5e6f7a8b9c", "0f6a3c2e-4b1d-4e8a-9c3f-2d5e6f7a8b9c"},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f6a3c2e_4b1d_4e8a_9c3f_2d5e6f7a8b9c.slice/cri-containerd-abc.scope", "0f6a3c2e-4b1d-4e8a-9c3f-2d5e6f7a8b9c"},
		{"/metropolis/containerd", ""},
		{"/", ""},
		{"/kubepods/burstable/podnot-a-uid/x", ""},
	} {
		if got := podUID(tc.path); got != tc.want {
			t.Errorf("podUID(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestBoundArgs(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		limit int
		want  []string
	}{
		{[]string{"kube", "kubelet", "--v=2"}, 100, []string{"kube", "kubelet", "--v=2"}},
		{[]string{"kube", "kubelet", "--v=2"}, 8, []string{"kube", "kube…"}},
		{[]string{"abcdef"}, 3, []string{"abc…"}},
		{nil, 10, nil},
	} {
		if got := boundArgs(tc.args, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("boundArgs(%q, %d) = %q, want %q", tc.args, tc.limit, got, tc.want)
		}
	}
}

// TestIntrospection reads this machine's real /proc through the API: the test process is
// listed with its command line, memory and CPU time; memory and mounts have their figures.
func TestIntrospection(t *testing.T) {
	tn := startNode(t, testOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()

	procs, err := tn.client.GetProcesses(ctx, &apb.GetProcessesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if procs.Cpus < 1 || len(procs.Processes) < 2 {
		t.Fatalf("%d CPUs, %d processes; want at least 1 and 2", procs.Cpus, len(procs.Processes))
	}
	i := slices.IndexFunc(procs.Processes, func(p *apb.Process) bool { return int(p.Pid) == os.Getpid() })
	if i < 0 {
		t.Fatalf("this test's process %d is not listed", os.Getpid())
	}
	self := procs.Processes[i]
	if self.ParentPid != int32(os.Getppid()) || self.ResidentBytes == 0 || self.Threads < 1 || len(self.CommandLine) == 0 ||
		!strings.HasSuffix(self.CommandLine[0], ".test") || self.Started.AsTime().After(time.Now()) || self.State == "" {
		t.Errorf("this process is listed as %v", self)
	}

	mem, err := tn.client.GetMemory(ctx, &apb.GetMemoryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if mem.TotalBytes == 0 || mem.AvailableBytes == 0 || mem.AvailableBytes > mem.TotalBytes {
		t.Errorf("memory: total %d, available %d", mem.TotalBytes, mem.AvailableBytes)
	}
	if _, err := os.Stat("/proc/pressure/memory"); err == nil && mem.MemoryPressure.GetSome() == nil {
		t.Error("the kernel has pressure stall information, the answer has none for memory")
	}

	mounts, err := tn.client.GetMounts(ctx, &apb.GetMountsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	j := slices.IndexFunc(mounts.Mounts, func(m *apb.Mount) bool { return m.MountPoint == "/" })
	if j < 0 || mounts.Mounts[j].SizeBytes == 0 || mounts.Mounts[j].Filesystem == "" {
		t.Errorf("the root mount is missing or has no size: %v", mounts.Mounts)
	}
}
