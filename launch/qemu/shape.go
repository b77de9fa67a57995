package qemu

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Host is what the cluster a machine can run depends on.
type Host struct {
	Accel Accel
	// Cores are the host's CPUs; MemoryMiB its memory.
	Cores     int
	MemoryMiB int
}

// ThisHost describes the machine the launcher runs on.
func ThisHost() Host {
	return Host{Accel: HostAccel(), Cores: runtime.NumCPU(), MemoryMiB: hostMemoryMiB()}
}

// Shape is the local cluster a launch makes: how many VMs, how big, and which run pods.
type Shape struct {
	Nodes     int
	CPUs      int
	MemoryMiB int
	// Workers are the nodes (numbered from 1) given the KubernetesWorker role.
	Workers []int
	// Why says what the choice rests on, for the launcher to show.
	Why string
}

// ChooseShape picks a cluster of nodes VMs (0: three) that h can run. Under KVM, or with a
// core for each emulated vCPU, every node gets 2 vCPUs and runs pods. Emulated VMs (TCG) on
// fewer cores starve each other: a node running the Kubernetes control plane and a kubelet
// could not even dial its own etcd on loopback in time. There each VM gets one vCPU and pods
// run on one node only, not the one with the control plane (node 1). Memory is capped so the
// VMs take at most half of the host's.
func ChooseShape(h Host, nodes int) Shape {
	if nodes <= 0 {
		nodes = 3
	}
	s := Shape{Nodes: nodes, CPUs: DefaultCPUs, MemoryMiB: DefaultMemoryMiB}
	if h.MemoryMiB > 0 {
		s.MemoryMiB = max(1024, min(s.MemoryMiB, h.MemoryMiB/2/nodes))
	}
	if h.Accel.KVM || h.Cores >= nodes*DefaultCPUs {
		for i := 1; i <= nodes; i++ {
			s.Workers = append(s.Workers, i)
		}
		why := "KVM"
		if !h.Accel.KVM {
			why = fmt.Sprintf("emulated CPUs (%s) but %d cores, one per vCPU", h.Accel.Reason, h.Cores)
		}
		s.Why = fmt.Sprintf("%s: %d VMs of %d vCPUs and %d MiB, every node runs pods", why, nodes, s.CPUs, s.MemoryMiB)
		return s
	}
	s.CPUs = 1
	worker := min(2, nodes)
	s.Workers = []int{worker}
	s.Why = fmt.Sprintf("emulated CPUs (%s) on %d cores: %d VMs of 1 vCPU and %d MiB, pods on node %d only (node 1 runs the Kubernetes control plane), so the VMs do not starve each other",
		h.Accel.Reason, h.Cores, nodes, s.MemoryMiB, worker)
	return s
}

// hostMemoryMiB reads MemTotal from /proc/meminfo; 0 if it cannot.
func hostMemoryMiB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kib, err := strconv.Atoi(fields[1])
			if err != nil {
				return 0
			}
			return kib / 1024
		}
	}
	return 0
}
