package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/osbase/eventually"
)

// checkWorkerRefused checks that hosted node i, given KubernetesWorker on a machine without
// cgroup v2 at /sys/fs/cgroup (the build machines mount cgroup v1), refuses to run a worker
// and says why in its status, instead of starting a kubelet that would fail obscurely.
func checkWorkerRefused(t *testing.T, c *testCluster, i int) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Log("this machine has cgroup v2: hosted workers are not refused here")
		return
	}
	eventually.Pass(t, time.Minute, fmt.Sprintf("node %d to report why it runs no Kubernetes worker", i), attempt(func(ctx context.Context) error {
		res, err := c.nodeStatus(ctx, i)
		if err != nil {
			return err
		}
		for _, r := range res.Runnables {
			if strings.HasSuffix(r.Dn, ".kubernetes-worker") && strings.Contains(r.LastError, "needs cgroup v2") {
				return nil
			}
		}
		return fmt.Errorf("no runnable *.kubernetes-worker with an error about cgroup v2 in %v", res.Runnables)
	}))
}
