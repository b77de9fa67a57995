package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/launch/kubectl"
	"metropolis.dev/metropolis/osbase/eventually"
)

// busyWorkload is a Deployment whose pod spins (within its CPU limit, five times its request)
// and an autoscaler that wants its pods' CPU at half their request: it must scale to its
// maximum of two.
const busyWorkload = `apiVersion: v1
kind: Namespace
metadata: {name: autoscale}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: busy, namespace: autoscale}
spec:
  replicas: 1
  selector: {matchLabels: {app: busy}}
  template:
    metadata: {labels: {app: busy}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: busy
        image: metropolis.dev/testhttp:v1
        imagePullPolicy: Never
        args: [spin, -for, 30m]
        resources:
          requests: {cpu: 20m}
          limits: {cpu: 100m}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: busy, namespace: autoscale}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: busy}
  minReplicas: 1
  maxReplicas: 2
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
`

// testResourceMetrics: `kubectl top` shows both nodes and the workload's pods (the
// controller's metrics-server reading the kubelets, aggregated into the apiserver), and a
// HorizontalPodAutoscaler on CPU scales a busy Deployment up.
func testResourceMetrics(t *testing.T, k *kubectl.Kubectl, ids, pods []string) {
	start := time.Now()
	eventually.Pass(t, 5*time.Minute, "kubectl top nodes to show both nodes", func(context.Context) error {
		out, err := k.Run("", "top", "nodes", "--no-headers")
		if err != nil {
			return err
		}
		return linesFor(out, ids)
	})
	t.Logf("kubectl top nodes answered %.1fs after the subtest started", time.Since(start).Seconds())
	eventually.Pass(t, 2*time.Minute, "kubectl top pods to show the workload's pods", func(context.Context) error {
		out, err := k.Run("", "top", "pods", "-l", "app=hello", "--no-headers")
		if err != nil {
			return err
		}
		return linesFor(out, pods)
	})

	must(t, k, busyWorkload, "apply", "-f", "-")
	defer func() {
		if _, err := k.Run("", "delete", "namespace", "autoscale", "--wait=false"); err != nil {
			t.Logf("delete namespace autoscale: %v", err)
		}
	}()
	applied := time.Now()
	var hpa struct {
		Status struct {
			DesiredReplicas int `json:"desiredReplicas"`
			CurrentMetrics  []struct {
				Resource struct {
					Current struct {
						AverageUtilization *int `json:"averageUtilization"`
					} `json:"current"`
				} `json:"resource"`
			} `json:"currentMetrics"`
			Conditions []struct {
				Type, Status, Reason, Message string
			} `json:"conditions"`
		} `json:"status"`
	}
	var firstMetric time.Duration
	eventually.Pass(t, 8*time.Minute, "the autoscaler to read the busy pod's CPU and want 2 replicas", func(context.Context) error {
		out, err := k.Run("", "get", "hpa", "-n", "autoscale", "busy", "-o", "json")
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(out), &hpa); err != nil {
			return err
		}
		s := hpa.Status
		if len(s.CurrentMetrics) == 0 || s.CurrentMetrics[0].Resource.Current.AverageUtilization == nil {
			return fmt.Errorf("no CPU figure yet; conditions %+v", s.Conditions)
		}
		if firstMetric == 0 {
			firstMetric = time.Since(applied)
		}
		if s.DesiredReplicas != 2 {
			return fmt.Errorf("CPU at %d%% of the request, desired replicas %d", *s.CurrentMetrics[0].Resource.Current.AverageUtilization, s.DesiredReplicas)
		}
		return nil
	})
	t.Logf("autoscaler: first CPU figure %.1fs after the Deployment was applied, 2 replicas wanted after %.1fs (CPU at %d%% of the request)",
		firstMetric.Seconds(), time.Since(applied).Seconds(), *hpa.Status.CurrentMetrics[0].Resource.Current.AverageUtilization)
	if out, err := k.Run("", "get", "deployment", "-n", "autoscale", "busy", "-o", "jsonpath={.spec.replicas}"); err != nil || out != "2" {
		t.Errorf("the Deployment's replicas: %q (%v), want 2: the autoscaler did not scale it", out, err)
	}
}

// linesFor checks that `kubectl top --no-headers` output has a line for each name, with a CPU
// figure in millicores.
func linesFor(out string, names []string) error {
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			rows[f[0]] = f[1:]
		}
	}
	for _, n := range names {
		f, ok := rows[n]
		if !ok {
			return fmt.Errorf("no line for %s in %q", n, out)
		}
		if !strings.HasSuffix(f[0], "m") {
			return fmt.Errorf("%s: CPU %q is not in millicores", n, f[0])
		}
	}
	return nil
}
