package workers

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// testIntrospection asks a worker what a person would look at on its machine: its processes
// include the kubelet with its memory, its memory figures add up, and its mounts include the
// data partition with a size; and scrapes its metrics, where node_exporter's collectors read
// the real machine.
func testIntrospection(t *testing.T, c *testenv.VMCluster, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := c.Mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := connect.Node(ctx, c.Context, id, net.JoinHostPort(n.GetStatus().GetExternalAddress(), strconv.Itoa(int(ports.NodeManagement))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	nm := apb.NewNodeManagementClient(conn)

	// What `metroctl cluster status` shows of the node's Kubernetes Node.
	st, err := nm.GetStatus(ctx, &apb.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if kn := st.GetKubernetesNode(); !kn.GetReady() {
		t.Errorf("node %s's status has Kubernetes Node %v, want Ready", id, kn)
	}
	t.Logf("node %s: Kubernetes Node %v, etcd member %v", id, st.GetKubernetesNode(), st.GetConsensus())

	procs, err := nm.GetProcesses(ctx, &apb.GetProcessesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(procs.Processes, func(p *apb.Process) bool {
		return slices.Contains(p.CommandLine, "kubelet") && p.ResidentBytes > 0
	})
	if i < 0 {
		t.Fatalf("no kubelet with its memory among %d processes", len(procs.Processes))
	}
	kubelet := procs.Processes[i]
	t.Logf("node %s: %d processes; the kubelet is PID %d, %d MiB resident, %.1f CPU seconds, cgroup %s",
		id, len(procs.Processes), kubelet.Pid, kubelet.ResidentBytes>>20, kubelet.CpuSeconds, kubelet.Cgroup)
	pods := 0
	for _, p := range procs.Processes {
		if p.PodUid != "" {
			pods++
		}
	}
	if pods == 0 {
		t.Error("no process is attributed to a pod, though the worker runs some")
	}

	mem, err := nm.GetMemory(ctx, &apb.GetMemoryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if mem.TotalBytes == 0 || mem.AvailableBytes > mem.TotalBytes || mem.MemoryPressure == nil {
		t.Errorf("memory: total %d, available %d, pressure %v", mem.TotalBytes, mem.AvailableBytes, mem.MemoryPressure)
	}

	mounts, err := nm.GetMounts(ctx, &apb.GetMountsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	j := slices.IndexFunc(mounts.Mounts, func(m *apb.Mount) bool { return strings.HasPrefix(m.MountPoint, "/data") && m.SizeBytes > 0 })
	if j < 0 {
		t.Errorf("no /data mount with a size among %d mounts", len(mounts.Mounts))
	}

	network, err := nm.GetNetwork(ctx, &apb.GetNetworkRequest{})
	if err != nil {
		t.Fatal(err)
	}
	listening := slices.ContainsFunc(network.Sockets, func(s *apb.Socket) bool {
		return s.Protocol == "tcp" && s.State == "LISTEN" && strings.HasSuffix(s.Local, ":"+strconv.Itoa(int(ports.NodeManagement)))
	})
	tables := 0
	for _, tb := range network.Nftables {
		if tb.Rules > 0 {
			tables++
		}
	}
	if !listening || tables == 0 || len(network.Routes) == 0 {
		t.Errorf("network: node management listening %v, %d nftables tables with rules, %d routes; want a listener, tables and routes", listening, tables, len(network.Routes))
	}
	t.Logf("node %s: %d interfaces, %d routes, %d sockets, nftables %v", id, len(network.Interfaces), len(network.Routes), len(network.Sockets), network.Nftables)

	scraper := testenv.MetricsCredential(t, ctx, c.Mgmt)
	var system testenv.Scrape
	eventually.Pass(t, 3*time.Minute, "node "+id+"'s system metrics, verified by its address", func(ctx context.Context) (err error) {
		system, err = testenv.ScrapeMetrics(ctx, c.Context.CA, scraper, n.GetStatus().GetExternalAddress(), "/metrics/system")
		if err == nil && system.Status != 200 {
			err = fmt.Errorf("%d %s", system.Status, system.Refusal)
		}
		return err
	})
	for _, check := range []struct {
		name   string
		labels map[string]string
	}{
		{"node_cpu_seconds_total", map[string]string{"mode": "idle"}},
		{"node_memory_MemAvailable_bytes", nil},
		{"node_filesystem_size_bytes", map[string]string{"mountpoint": "/data"}},
		{"node_pressure_memory_waiting_seconds_total", nil},
	} {
		if v, err := testenv.MetricValue(system.Families, check.name, check.labels); err != nil || v <= 0 && check.name != "node_pressure_memory_waiting_seconds_total" {
			t.Errorf("%s%v = %v (%v)", check.name, check.labels, v, err)
		}
	}
	// Some interfaces (a dummy one, an idle veth) receive nothing: the node as a whole does.
	if v, err := testenv.MetricSum(system.Families, "node_network_receive_bytes_total"); err != nil || v <= 0 {
		t.Errorf("node_network_receive_bytes_total over all interfaces = %v (%v)", v, err)
	}
	t.Logf("node %s serves %d families at /metrics/system (%d bytes in %v)", id, len(system.Families), system.Bytes, system.Took.Round(time.Millisecond))
	testWorkerMetrics(t, c, scraper, id, n.GetStatus().GetExternalAddress())
}

// testWorkerMetrics scrapes the worker's Kubernetes components through the node's metrics
// port: the kubelet's own figures (it runs pods), cAdvisor's per container (named by pod),
// and containerd's (a Go program: its runtime's figures at least).
func testWorkerMetrics(t *testing.T, c *testenv.VMCluster, scraper *tls.Certificate, id, address string) {
	for _, check := range []struct {
		component, family string
		labels            map[string]string
	}{
		{"kubelet", "kubelet_running_pods", nil},
		{"cadvisor", "container_cpu_usage_seconds_total", map[string]string{"namespace": "default"}},
		{"containerd", "go_goroutines", nil},
	} {
		var got testenv.Scrape
		path := "/metrics/" + check.component
		eventually.Pass(t, 3*time.Minute, "node "+id+"'s "+check.component+" metrics with "+check.family, func(ctx context.Context) (err error) {
			got, err = testenv.ScrapeMetrics(ctx, c.Context.CA, scraper, address, path)
			if err == nil && got.Status != 200 {
				return fmt.Errorf("%d %s", got.Status, got.Refusal)
			}
			if err == nil {
				var v float64
				if v, err = testenv.MetricValue(got.Families, check.family, check.labels); err == nil && v <= 0 {
					err = fmt.Errorf("%s%v = %v, want more than 0", check.family, check.labels, v)
				}
			}
			return err
		})
		t.Logf("node %s serves %d families at %s (%d bytes in %v)", id, len(got.Families), path, got.Bytes, got.Took.Round(time.Millisecond))
	}
}
