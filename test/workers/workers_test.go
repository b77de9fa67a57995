package workers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/grow"
	"metropolis.dev/metropolis/launch/kubectl"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// Timeouts under TCG on a loaded two-core machine.
const (
	launchTimeout = 8 * time.Minute
	readyTimeout  = 12 * time.Minute
	// A controller-manager that has just started syncs its informers slowly under TCG: a run
	// on a machine busy with other work once saw no pod created within 5 minutes.
	podTimeout = 10 * time.Minute
)

// workload is the test HTTP server (cmd/testhttp, shipped in the image) as a Deployment of two
// replicas spread over the nodes, and a Service in front of it.
const workload = `apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 2
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      terminationGracePeriodSeconds: 5
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: hello}}}
      containers:
      - name: hello
        image: metropolis.dev/testhttp:v1
        imagePullPolicy: Never
        args: [serve, -listen, ":8080"]
        ports: [{containerPort: 8080}]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
---
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080}]
`

// TestWorkers boots one controller+worker and one worker node from the image and runs pods on
// them after moving the worker's network while it runs (testNodeNetwork): a Deployment spread
// over both, reached through its Service by DNS name from a pod, its
// logs and exec, a deleted pod recreated, NetworkPolicy enforced, kubectl top and CPU autoscaling,
// local persistent volumes, with METROPOLIS_TEST_ROLLOUT_K8S a rollout to
// release 2 draining each node, and the pods of a worker removed from the cluster rescheduled.
func TestWorkers(t *testing.T) {
	suite.Require(t)
	ctx := context.Background()
	c := testenv.LaunchVMs(t, qemu.Options{
		Name: "kworkers", Nodes: 2, ConsensusMembers: 1, MemoryMiB: 3072, Cards: 2,
		Image: built.ImagePath, WaitTimeout: launchTimeout,
	})
	launched := time.Now()
	mgmt := c.Mgmt
	ids := nodeIDs(t, ctx, mgmt)
	yes := true
	for _, id := range ids {
		if _, err := mgmt.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: id, KubernetesWorker: &yes}); err != nil {
			t.Fatalf("grant KubernetesWorker to %s: %v", id, err)
		}
	}
	k := newKubectl(t, ctx, mgmt)
	eventually.Pass(t, readyTimeout, "both nodes Ready in Kubernetes", func(context.Context) error {
		return nodesReady(k, ids)
	})

	t.Run("Nodes show their OS image and role labels; the kube-dns Service exists", func(t *testing.T) {
		testConventions(t, ctx, mgmt, k)
	})

	t.Run("a node's configuration gives its Node labels, a taint and a system reservation, and takes them back", func(t *testing.T) {
		testNodeConfiguration(t, ctx, mgmt, k, ids[1])
	})

	t.Run("a worker's network moves in a confirmed trial, a VLAN carries traffic, a trial that cuts it off reverts by itself", func(t *testing.T) {
		testNodeNetwork(t, ctx, c, k, nonConsensus(t, ctx, mgmt, ids))
	})

	var pods map[string]string // pod name → node name
	t.Run("a Deployment of two replicas spreads over both nodes", func(t *testing.T) {
		must(t, k, workload, "apply", "-f", "-")
		d := eventually.Pass(t, podTimeout, "two pods Running", func(context.Context) error {
			var err error
			pods, err = runningPods(k, 2)
			return err
		})
		t.Logf("Deployment created → 2 pods Running: %.1fs", d.Seconds())
		nodes := map[string]bool{}
		for _, n := range pods {
			nodes[n] = true
		}
		if len(nodes) != 2 {
			t.Fatalf("pods %v are not spread over both nodes", pods)
		}
	})
	if t.Failed() {
		return
	}
	names := sortedKeys(pods)

	t.Run("kubectl logs and exec", func(t *testing.T) {
		out := must(t, k, "", "exec", names[0], "--", "/testhttp", "get", "http://127.0.0.1:8080/healthz")
		if !strings.Contains(out, "ok") {
			t.Errorf("exec /testhttp get /healthz printed %q, want ok", out)
		}
		eventually.Pass(t, 30*time.Second, "the request in kubectl logs", func(context.Context) error {
			logs, err := k.Run("", "logs", names[0])
			if err != nil {
				return err
			}
			if !strings.Contains(logs, "GET /healthz") {
				return fmt.Errorf("logs do not show the request: %q", logs)
			}
			return nil
		})
	})

	t.Run("the Service reaches both replicas by DNS name from a pod", func(t *testing.T) {
		seen := map[string]bool{}
		eventually.Pass(t, 2*time.Minute, "answers from both pods through hello.default.svc.cluster.local", func(context.Context) error {
			out, err := k.Run("", "exec", names[0], "--", "/testhttp", "get", "-n", "8", "http://hello.default.svc.cluster.local/")
			if err != nil {
				return err
			}
			for _, p := range names {
				if strings.Contains(out, "pod="+p) {
					seen[p] = true
				}
			}
			if len(seen) < 2 {
				return fmt.Errorf("answers so far from %v, want both of %v; last output %q", seen, names, out)
			}
			return nil
		})
	})

	t.Run("a worker lists its processes (the kubelet with its memory), memory and mounts", func(t *testing.T) {
		testIntrospection(t, c, ids[len(ids)-1])
	})

	t.Run("a capture on a worker holds a request between two pods", func(t *testing.T) {
		testCapture(t, c, k, pods[names[1]], names[0], names[1])
	})

	t.Run("a deleted pod is recreated", func(t *testing.T) {
		defer func() { pods, _ = runningPods(k, 2) }()
		must(t, k, "", "delete", "pod", names[1], "--wait=false")
		eventually.Pass(t, podTimeout, "a replacement pod Running", func(context.Context) error {
			now, err := runningPods(k, 2)
			if err != nil {
				return err
			}
			if _, ok := now[names[1]]; ok {
				return fmt.Errorf("%s still there", names[1])
			}
			return nil
		})
	})

	t.Run("NetworkPolicy is enforced on both workers", func(t *testing.T) {
		testNetworkPolicy(t, k, ids, pods)
	})

	t.Run("kubectl top shows nodes and pods; an autoscaler scales a busy Deployment on CPU", func(t *testing.T) {
		testResourceMetrics(t, k, ids, sortedKeys(pods))
	})

	t.Run("a StatefulSet's local volume keeps its data across pods and a reboot, holds its size, grows, and returns its space", func(t *testing.T) {
		testLocalVolumes(t, c, k, ids)
	})

	logElections(t, k, launched)

	t.Run("a rollout drains, updates and uncordons both nodes", func(t *testing.T) {
		defer func() { pods, _ = runningPods(k, 2) }()
		testRollout(t, ctx, c, k, ids)
	})

	t.Run("the pods of a worker deleted from the cluster are rescheduled; its volumes' claims are replaced", func(t *testing.T) {
		gone := workerOnly(t, ctx, mgmt)
		other := ids[0]
		if other == gone {
			other = ids[1]
		}
		pinVolume(t, k, gone, other)
		if _, err := mgmt.DeleteNode(ctx, &apb.DeleteNodeRequest{NodeId: gone, SkipSafetyChecks: true}); err != nil {
			t.Fatalf("delete node %s: %v", gone, err)
		}
		d := eventually.Pass(t, podTimeout, "two pods Running, none on the deleted node", func(context.Context) error {
			now, err := runningPods(k, 2)
			if err != nil {
				return err
			}
			for p, n := range now {
				if n == gone {
					return fmt.Errorf("pod %s still on %s", p, gone)
				}
			}
			return nil
		})
		t.Logf("node deleted → its pod replaced on the other node: %.1fs", d.Seconds())
		if out, _ := k.Run("", "get", "node", gone); strings.Contains(out, gone) {
			t.Errorf("the Kubernetes Node of the deleted node is still there: %q", out)
		}
		replaceVolumeOfDeletedNode(t, k, other)
	})
}

// workerOnly returns the node that is no consensus member (the worker-only one).
func workerOnly(t *testing.T, ctx context.Context, mgmt apb.ManagementClient) string {
	t.Helper()
	nodes, err := grow.ListNodes(ctx, mgmt)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if !n.Roles.GetConsensusMember() {
			return n.Id
		}
	}
	t.Fatal("every node is a consensus member")
	return ""
}

// nodesReady checks that every node in ids is a Kubernetes Node with Ready=True.
func nodesReady(k *kubectl.Kubectl, ids []string) error {
	out, err := k.Run("", "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if !strings.Contains(out, id+"=True") {
			return fmt.Errorf("node %s is not Ready: %q", id, out)
		}
	}
	return nil
}

// runningPods returns the hello pods (name → node) once exactly want of them exist and all run.
func runningPods(k *kubectl.Kubectl, want int) (map[string]string, error) {
	out, err := k.Run("", "get", "pods", "-l", "app=hello", "-o", `jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase} {.metadata.deletionTimestamp}{"\n"}{end}`)
	if err != nil {
		return nil, err
	}
	pods := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		if f[2] != "Running" || len(f) > 3 {
			return nil, fmt.Errorf("pod %s is %s (%q)", f[0], f[2], out)
		}
		pods[f[0]] = f[1]
	}
	if len(pods) != want {
		return nil, fmt.Errorf("%d pods running, want %d: %q", len(pods), want, out)
	}
	return pods, nil
}

func sortedKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// nonConsensus returns the first of ids that is not a consensus member.
func nonConsensus(t *testing.T, ctx context.Context, mgmt apb.ManagementClient, ids []string) string {
	t.Helper()
	for _, id := range ids {
		n, err := mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
		if err != nil {
			t.Fatal(err)
		}
		if !n.GetRoles().GetConsensusMember() {
			return id
		}
	}
	t.Fatalf("all of %v are consensus members", ids)
	return ""
}
