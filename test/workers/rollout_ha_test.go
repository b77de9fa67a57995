package workers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/kubectl"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/node/rpc"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// haRolloutEnv turns on TestRolloutThreeControllers. Not for CI: three VMs that each run a
// Kubernetes control plane, and three reboots into a 150 MB release. On a two-core machine
// without KVM the three control planes do not even form (docs/rollout.md has what was seen);
// run it where the VMs have KVM, or at least one core per vCPU (six):
//
//	METROPOLIS_TEST_ROLLOUT_HA=1 go test -run TestRolloutThreeControllers -v -timeout 170m ./test/workers
const haRolloutEnv = "METROPOLIS_TEST_ROLLOUT_HA"

// haCluster names the test's cluster and its metroctl context.
const haCluster = "kha"

// nodePortService exposes the hello Deployment on every node's port 30080, where the test's
// client reaches it from outside the cluster, as a load balancer in front of the nodes would.
const nodePortService = `apiVersion: v1
kind: Service
metadata: {name: hello-nodeport}
spec:
  type: NodePort
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
`

// TestRolloutThreeControllers rolls release 2 over a cluster of three nodes that are each a
// consensus member and a Kubernetes controller, two of them workers, running a Deployment of
// two replicas under a PodDisruptionBudget. Without --force: the consensus keeps quorum throughout. While
// it runs, a client writes to the Kubernetes API every second through the kubeconfig `metroctl
// k8s configure` writes, and another asks the Service through its NodePort on the workers. The
// curator leader's node goes last: the leadership moves when it reboots and the next leader
// finishes the plan. At the end every node runs release 2, is Ready and schedulable, both
// replicas run, and every write acknowledged to the client is there. The failed requests and
// the longest gaps are logged for docs/benchmarks.md.
func TestRolloutThreeControllers(t *testing.T) {
	if os.Getenv(haRolloutEnv) == "" {
		t.Skipf("set %s=1 to roll a release over three Kubernetes controllers (an hour or more under TCG)", haRolloutEnv)
	}
	suite.Require(t)
	ctx := context.Background()
	c := testenv.LaunchVMs(t, qemu.Options{
		Name: haCluster, Nodes: 3, ConsensusMembers: 3, MemoryMiB: 3072,
		Image: built.ImagePath, WaitTimeout: launchTimeout,
	})
	mgmt := c.Mgmt
	ids := nodeIDs(t, ctx, mgmt)
	k := metroctlKubectl(t, c)
	// The control planes start one after the other, and the kubelets after them: three
	// apiservers starting at once, or one beside three starting workers, on two emulated cores
	// time out in their start hooks and start over, again and again (docs/rollout.md). A
	// rollout restarts them one at a time too.
	var others []string // the nodes not yet controllers (all but the first node)
	for _, id := range ids {
		n, err := mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
		if err != nil {
			t.Fatal(err)
		}
		if !n.GetRoles().GetKubernetesController() {
			others = append(others, id)
		}
	}
	if len(others) != 2 {
		t.Fatalf("%d of 3 nodes are not Kubernetes controllers after the launch, want 2", len(others))
	}
	yes := true
	for want := 1; want <= 3; want++ {
		if want > 1 {
			id := others[want-2]
			if _, err := mgmt.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: id, KubernetesController: &yes}); err != nil {
				t.Fatalf("make %s a Kubernetes controller: %v", id, err)
			}
		}
		eventually.Pass(t, 2*readyTimeout, fmt.Sprintf("%d apiservers behind the kubernetes Service", want), func(context.Context) error {
			return apiservers(k, want)
		})
	}
	// Two workers: a drain moves the evicted replica to the other one.
	workers := others
	var addresses []string // the workers' addresses, where the NodePort answers
	for _, id := range workers {
		if _, err := mgmt.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: id, KubernetesWorker: &yes}); err != nil {
			t.Fatalf("make %s a Kubernetes worker: %v", id, err)
		}
		got, err := mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
		if err != nil {
			t.Fatal(err)
		}
		addresses = append(addresses, got.GetStatus().GetExternalAddress())
	}
	eventually.Pass(t, 2*readyTimeout, "both workers Ready in Kubernetes", func(context.Context) error {
		return nodesReady(k, workers)
	})

	must(t, k, workload+"---\n"+pdb+"---\n"+nodePortService, "apply", "-f", "-")
	eventually.Pass(t, podTimeout, "two pods Running", func(context.Context) error {
		_, err := runningPods(k, 2)
		return err
	})
	eventually.Pass(t, 2*time.Minute, "the Service answering on every worker's NodePort", func(context.Context) error {
		for _, a := range addresses {
			if err := getService(a); err != nil {
				return err
			}
		}
		return nil
	})

	data := buildRelease2(t)
	clientset, err := clientsetFor(k.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	writes := startWriteProbe(ctx, clientset)
	service := startServiceProbe(ctx, addresses)
	leader, err := rpc.CurrentLeader(ctx, c.Conn)
	if err != nil {
		t.Fatal(err)
	}
	r, err := startRollout(ctx, mgmt, data, nil)
	if err != nil {
		t.Fatalf("start the rollout (three healthy consensus members, no --force): %v", err)
	}
	if last := r.Nodes[len(r.Nodes)-1].NodeId; last != leader.NodeID {
		t.Errorf("the plan updates %s last, not the curator leader's node %s", last, leader.NodeID)
	}
	started := time.Now()
	r, leaders := followRollout(t, c, r, 2*time.Hour)
	took := time.Since(started)
	w := writes.stop()
	s := service.stop()
	if r.State != apb.RolloutState_ROLLOUT_STATE_DONE {
		t.Fatalf("rollout %s: %s", r.State, r.Reason)
	}
	t.Logf("rollout of 3 Kubernetes controllers done in %s; curator leaders in turn: %v", took.Round(time.Second), leaders)
	t.Logf("Kubernetes API through metroctl's kubeconfig: %s", w)
	t.Logf("the Service through its NodePort: %s", s)
	if len(leaders) < 2 {
		t.Errorf("the curator leadership never moved (%v), though the leader's node rebooted", leaders)
	}

	t.Run("every node runs release 2, Ready and schedulable, and both replicas run", func(t *testing.T) {
		checkRolledOut(t, ctx, mgmt, k, ids, workers)
	})
	t.Run("every write acknowledged to the client is kept", func(t *testing.T) {
		checkWritesKept(t, ctx, clientset, w.acknowledged)
	})
	t.Run("no request failed after its one-second retry", func(t *testing.T) {
		if w.failedRequests > 0 {
			t.Errorf("Kubernetes API: %d requests failed twice", w.failedRequests)
		}
		if s.failedRequests > 0 {
			t.Errorf("Service: %d requests failed on every node", s.failedRequests)
		}
	})
}

// apiservers checks that want apiservers serve the kubernetes Service.
func apiservers(k *kubectl.Kubectl, want int) error {
	out, err := k.Run("", "get", "endpointslices", "-n", "default", "-l", "kubernetes.io/service-name=kubernetes",
		"-o", "jsonpath={.items[*].endpoints[*].addresses[*]}")
	if err != nil {
		return err
	}
	if n := len(strings.Fields(out)); n != want {
		return fmt.Errorf("%d apiservers (%q), want %d", n, out, want)
	}
	return nil
}

// metroctlKubectl writes the kubeconfig an operator gets from `metroctl k8s configure` (the
// credential plugin starts a local proxy that follows the controllers) and returns kubectl
// using it. The proxy is stopped when the test ends.
func metroctlKubectl(t *testing.T, c *testenv.VMCluster) *kubectl.Kubectl {
	t.Helper()
	metroctl, err := suite.GoBuild("metropolis.dev/metropolis/cmd/metroctl")
	if err != nil {
		t.Fatal(err)
	}
	dir := c.Store.Dir()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	eventually.Pass(t, readyTimeout, "metroctl k8s configure", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, metroctl, "--config-dir", dir, "--context", haCluster,
			"k8s", "configure", "--kubeconfig", kubeconfig).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	t.Cleanup(func() {
		data, _ := os.ReadFile(filepath.Join(dir, "k8s-proxy-"+haCluster+".log"))
		for _, m := range regexp.MustCompile(`\(pid (\d+)\)`).FindAllStringSubmatch(string(data), -1) {
			if pid, err := strconv.Atoi(m[1]); err == nil {
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})
	return kubectl.WithKubeconfig(kube, kubeconfig)
}

// followRollout logs every change of rollout r until it is done, halted or aborted, and the
// curator leaders seen meanwhile, in turn.
func followRollout(t *testing.T, c *testenv.VMCluster, r *apb.Rollout, timeout time.Duration) (*apb.Rollout, []string) {
	t.Helper()
	leaders := []string{}
	started := time.Now()
	last := r
	eventually.Pass(t, timeout, "the rollout done, halted or aborted", func(ctx context.Context) error {
		if l, err := rpc.CurrentLeader(ctx, c.Conn); err == nil && (len(leaders) == 0 || leaders[len(leaders)-1] != l.NodeID) {
			t.Logf("[%6.1fs] curator leader: %s", time.Since(started).Seconds(), l.NodeID)
			leaders = append(leaders, l.NodeID)
		}
		next, changes, err := rolloutChanges(ctx, c.Mgmt, last)
		if err != nil {
			return err
		}
		for _, ch := range changes {
			t.Logf("[%6.1fs] %s", time.Since(started).Seconds(), ch)
		}
		last = next
		if settledState(last.State) {
			return nil
		}
		return fmt.Errorf("rollout %s", last.State)
	})
	return last, leaders
}

// checkRolledOut checks that every node of ids runs release 2, that the workers among them are
// Ready and none is cordoned, and that the Deployment's two pods run again.
func checkRolledOut(t *testing.T, ctx context.Context, mgmt apb.ManagementClient, k *kubectl.Kubectl, ids, workers []string) {
	t.Helper()
	eventually.Pass(t, readyTimeout, "every worker Ready and schedulable", func(context.Context) error {
		if err := nodesReady(k, workers); err != nil {
			return err
		}
		return noneCordoned(k)
	})
	eventually.Pass(t, podTimeout, "two pods Running", func(context.Context) error {
		_, err := runningPods(k, 2)
		return err
	})
	for _, id := range ids {
		n, err := mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
		if err != nil {
			t.Fatal(err)
		}
		if v := n.GetStatus().GetSoftware().GetVersion(); v != release2 {
			t.Errorf("node %s runs %q after the rollout, want %s", id, v, release2)
		}
	}
}
