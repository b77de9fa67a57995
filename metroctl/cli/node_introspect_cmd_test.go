package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
)

var introspectStart = time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)

// GetProcesses answers two processes whose CPU time grows by a second per call.
func (n fakeNodeManagement) GetProcesses(context.Context, *apb.GetProcessesRequest) (*apb.GetProcessesResponse, error) {
	n.f.mu.Lock()
	n.f.processCalls++
	calls := n.f.processCalls
	n.f.mu.Unlock()
	started := timestamppb.New(introspectStart)
	return &apb.GetProcessesResponse{
		Time: timestamppb.New(introspectStart.Add(time.Duration(calls) * time.Second)), Cpus: 2,
		Processes: []*apb.Process{
			{Pid: 1, Name: "metropolis-node", CommandLine: []string{"/bin/metropolis-node"}, State: "S", CpuSeconds: 10, ResidentBytes: 64 << 20, Threads: 20, Started: started},
			{Pid: 42, ParentPid: 1, Name: "kube", CommandLine: []string{"/bin/kube", "kubelet"}, State: "R", CpuSeconds: float64(calls), ResidentBytes: 96 << 20, Threads: 12,
				PodUid: "", Cgroup: "/metropolis/kubelet", Started: started},
		},
	}, nil
}

func (n fakeNodeManagement) GetMemory(context.Context, *apb.GetMemoryRequest) (*apb.GetMemoryResponse, error) {
	return &apb.GetMemoryResponse{TotalBytes: 4 << 30, AvailableBytes: 3 << 30, MemoryPressure: &apb.Pressure{Some: &apb.PressureStall{Avg10: 1.5}}}, nil
}

// GetStatus answers as a consensus member that leads in term 7 and a worker that is Ready.
func (n fakeNodeManagement) GetStatus(context.Context, *apb.GetStatusRequest) (*apb.GetStatusResponse, error) {
	return &apb.GetStatusResponse{
		Consensus:      &apb.ConsensusMemberStatus{MemberId: "8e9e05c52164694d", LeaderId: "8e9e05c52164694d", RaftTerm: 7},
		KubernetesNode: &apb.KubernetesNodeStatus{Ready: true, Reason: "KubeletReady"},
	}, nil
}

func (n fakeNodeManagement) GetMounts(context.Context, *apb.GetMountsRequest) (*apb.GetMountsResponse, error) {
	return &apb.GetMountsResponse{Mounts: []*apb.Mount{
		{MountPoint: "/", Filesystem: "erofs", Source: "/dev/dm-0", ReadOnly: true, SizeBytes: 100 << 20, FreeBytes: 0},
		{MountPoint: "/proc", Filesystem: "proc", Source: "proc"},
		{MountPoint: "/data", Filesystem: "ext4", Source: "/dev/dm-1", SizeBytes: 10 << 30, FreeBytes: 9 << 30, AvailableBytes: 8 << 30},
	}}, nil
}

func (n fakeNodeManagement) GetNetwork(context.Context, *apb.GetNetworkRequest) (*apb.GetNetworkResponse, error) {
	return &apb.GetNetworkResponse{
		Interfaces: []*apb.NetworkInterface{
			{Name: "bond0", Type: "bond", Up: true, Carrier: true, Mtu: 1500, Addresses: []string{"10.0.0.11/24"}, ReceiveBytes: 2048},
			{Name: "eth0", Type: "device", Up: true, Carrier: true, Mtu: 1500, Master: "bond0", BondState: "active"},
			{Name: "eth1", Type: "device", Up: true, Mtu: 1500, Master: "bond0", BondState: "link down"},
		},
		Routes: []*apb.Route{{Destination: "default", Gateway: "10.0.0.1", Interface: "eth0", Table: 254}},
		Sockets: []*apb.Socket{
			{Protocol: "tcp", Local: "10.0.0.11:7836", Remote: "10.0.0.5:50000", State: "ESTABLISHED"},
			{Protocol: "tcp", Local: "0.0.0.0:7836", Remote: "0.0.0.0:0", State: "LISTEN"},
		},
		Nftables: []*apb.NftablesTable{{Family: "ip", Name: "metropolis-netpol", Chains: 4, Rules: 14, Sets: 2}},
	}, nil
}

func TestNodeIntrospection(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID

	r := e.run("", "node", "ps", id)
	if r.code != 0 || !strings.Contains(r.stdout, "/bin/kube kubelet") || !strings.Contains(r.stdout, "96.0 MiB") {
		t.Errorf("node ps: want the kubelet with its memory:\n%v", r)
	}
	r = e.run("", "node", "ps", id, "-o", "json")
	var listed struct {
		Processes []struct{ Pid int }
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &listed) != nil || len(listed.Processes) != 2 {
		t.Errorf("node ps -o json: want two processes:\n%v", r)
	}
	r = e.run("", "node", "memory", id)
	if r.code != 0 || !strings.Contains(r.stdout, "3.0 GiB") || !strings.Contains(r.stdout, "1.50%") {
		t.Errorf("node memory: want available memory and memory pressure:\n%v", r)
	}
	r = e.run("", "node", "df", id)
	if r.code != 0 || !strings.Contains(r.stdout, "/data") || strings.Contains(r.stdout, "/proc") || !strings.Contains(r.stdout, "10%") {
		t.Errorf("node df: want /data 10%% used and no /proc:\n%v", r)
	}
	r = e.run("", "node", "network", id)
	for _, want := range []string{"eth0", "10.0.0.11/24", "2.0 KiB", "default", "10.0.0.1", "ip metropolis-netpol", "14",
		"up, in bond0 (active)", "up, no carrier, in bond0 (link down)"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("node network lacks %q:\n%v", want, r)
		}
	}
	r = e.run("", "node", "sockets", id)
	if lines := strings.Split(r.stdout, "\n"); r.code != 0 || len(lines) < 3 || !strings.Contains(lines[1], "LISTEN") || !strings.Contains(lines[2], "ESTABLISHED") {
		t.Errorf("node sockets: want the listening socket before the connection:\n%v", r)
	}
	// One refresh: the kubelet used one CPU second in the one second between the samples.
	r = e.run("", "node", "top", id, "--iterations", "1", "--interval", "100ms")
	lines := strings.Split(r.stdout, "\n")
	if r.code != 0 || len(lines) < 4 || !strings.HasPrefix(strings.TrimSpace(lines[3]), "100.0") || !strings.Contains(lines[3], "kubelet") {
		t.Errorf("node top: want the kubelet first at 100%% of a CPU:\n%v", r)
	}
	r = e.run("", "node", "top", id, "--interval", "1ms")
	if r.code == 0 || !strings.Contains(r.stderr, "--interval 1ms: want at least 100ms") {
		t.Errorf("node top --interval 1ms: want a refusal naming the flag:\n%v", r)
	}
}

func TestCPURates(t *testing.T) {
	at := func(s int) *timestamppb.Timestamp {
		return timestamppb.New(introspectStart.Add(time.Duration(s) * time.Second))
	}
	prev := &apb.GetProcessesResponse{Time: at(10), Processes: []*apb.Process{
		{Pid: 1, CpuSeconds: 5, Started: at(0)},
		{Pid: 2, CpuSeconds: 7, Started: at(0)},
	}}
	cur := &apb.GetProcessesResponse{Time: at(12), Processes: []*apb.Process{
		{Pid: 1, CpuSeconds: 6, Started: at(0)},    // 1 s in 2 s
		{Pid: 2, CpuSeconds: 0.5, Started: at(11)}, // a new process under a reused PID
		{Pid: 3, CpuSeconds: 1, Started: at(11)},   // new
	}}
	want := map[int32]float64{1: 50, 2: 25, 3: 50}
	got := cpuRates(prev, cur)
	for pid, w := range want {
		if got[pid] != w {
			t.Errorf("pid %d: %v%%, want %v%%", pid, got[pid], w)
		}
	}
	if r := cpuRates(cur, cur); r[1] != 0 {
		t.Errorf("no time between samples: %v, want no rates", r)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 96 << 20: "96.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestClusterStatus: one line per node; UP nodes answer with their memory and data
// partition, a NEW node is listed without asking it.
func TestClusterStatus(t *testing.T) {
	e := newTestEnv(t, true)
	newID := e.newNode(apb.NodeState_NODE_STATE_NEW, nil)
	r := e.run("", "cluster", "status")
	if r.code != 0 {
		t.Fatalf("cluster status failed:\n%v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and two nodes:\n%s", r.stdout)
	}
	for _, l := range lines[1:] {
		switch {
		case strings.HasPrefix(l, e.cluster.nodeID):
			for _, want := range []string{"UP", "leader (term 7)", "Ready", "3.0 GiB of 4.0 GiB", "10% of 10.0 GiB", "-/1.5%/-"} {
				if !strings.Contains(l, want) {
					t.Errorf("the UP node's line lacks %q: %s", want, l)
				}
			}
		case strings.HasPrefix(l, newID):
			if !strings.Contains(l, "NEW") || strings.Contains(l, "GiB") {
				t.Errorf("the NEW node's line: %s; want its state and no figures", l)
			}
		default:
			t.Errorf("unexpected line %s", l)
		}
	}
}

func TestEtcdAndKubernetesTexts(t *testing.T) {
	for _, tc := range []struct {
		etcd *apb.ConsensusMemberStatus
		want string
	}{
		{nil, "-"},
		{&apb.ConsensusMemberStatus{MemberId: "a", Error: "deadline exceeded"}, "no answer"},
		{&apb.ConsensusMemberStatus{MemberId: "a"}, "no leader"},
		{&apb.ConsensusMemberStatus{MemberId: "a", LeaderId: "a", RaftTerm: 2}, "leader (term 2)"},
		{&apb.ConsensusMemberStatus{MemberId: "a", LeaderId: "b", RaftTerm: 2}, "follower (term 2)"},
	} {
		if got := etcdText(tc.etcd); got != tc.want {
			t.Errorf("etcdText(%v) = %q, want %q", tc.etcd, got, tc.want)
		}
	}
	for _, tc := range []struct {
		node *apb.KubernetesNodeStatus
		want string
	}{
		{nil, "-"},
		{&apb.KubernetesNodeStatus{Error: "get Node: timeout"}, "unknown"},
		{&apb.KubernetesNodeStatus{Ready: true, Reason: "KubeletReady"}, "Ready"},
		{&apb.KubernetesNodeStatus{Reason: "KubeletNotReady"}, "NotReady (KubeletNotReady)"},
		{&apb.KubernetesNodeStatus{}, "NotReady"},
	} {
		if got := kubernetesText(tc.node); got != tc.want {
			t.Errorf("kubernetesText(%v) = %q, want %q", tc.node, got, tc.want)
		}
	}
}

func TestDataMount(t *testing.T) {
	data := &apb.Mount{MountPoint: "/data", SizeBytes: 1}
	big := &apb.Mount{MountPoint: "/srv", SizeBytes: 100}
	ro := &apb.Mount{MountPoint: "/", SizeBytes: 1000, ReadOnly: true}
	if got := dataMount([]*apb.Mount{ro, big, data}); got != data {
		t.Errorf("with /data: %v", got)
	}
	if got := dataMount([]*apb.Mount{ro, big}); got != big {
		t.Errorf("without /data: %v, want the largest writable one", got)
	}
	if got := dataMount([]*apb.Mount{ro}); got != nil {
		t.Errorf("only read-only mounts: %v, want none", got)
	}
}

// CapturePackets answers a "file" in two chunks and a summary.
func (n fakeNodeManagement) CapturePackets(req *apb.CapturePacketsRequest, srv grpc.ServerStreamingServer[apb.CapturePacketsResponse]) error {
	n.f.record("CapturePackets", req)
	for _, chunk := range []string{"pcap-", "bytes"} {
		if err := srv.Send(&apb.CapturePacketsResponse{Pcap: []byte(chunk)}); err != nil {
			return err
		}
	}
	return srv.Send(&apb.CapturePacketsResponse{Summary: &apb.CaptureSummary{Packets: 3, Bytes: 180, EndedBy: "duration"}})
}

func TestNodePcap(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	out := filepath.Join(t.TempDir(), "capture.pcap")
	r := e.run("", "node", "pcap", id, "eth0", "-f", "tcp port 80", "--duration", "3s", "-o", out)
	if r.code != 0 || !strings.Contains(r.stderr, "3 packets (180 B), ended by duration") {
		t.Fatalf("node pcap: want the summary on stderr:\n%v", r)
	}
	if data, err := os.ReadFile(out); err != nil || string(data) != "pcap-bytes" {
		t.Errorf("the file holds %q (%v), want the chunks in order", data, err)
	}
	want := &apb.CapturePacketsRequest{Interface: "eth0", Filter: "tcp port 80", Duration: durationpb.New(3 * time.Second)}
	if got := e.cluster.lastRequest(); !proto.Equal(got, want) {
		t.Errorf("request %v, want %v", got, want)
	}
	r = e.run("", "node", "pcap", id, "eth0")
	if r.code == 0 || !strings.Contains(r.stderr, "-o FILE is required") {
		t.Errorf("without -o: want a refusal naming the flag:\n%v", r)
	}
}
