package workers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/build/mkimage"
	"metropolis.dev/metropolis/launch/kubectl"
	"metropolis.dev/metropolis/node/rollout"
	"metropolis.dev/metropolis/test/testenv"
)

// rolloutTestEnv turns on the Kubernetes rollout check of TestWorkers: release 2, with
// Kubernetes, built and rolled over both nodes, each drained and uncordoned. Too long for CI
// (two updates of a 150 MB release under TCG):
//
//	METROPOLIS_TEST_ROLLOUT_K8S=1 go test -run TestWorkers -v ./test/workers
const rolloutTestEnv = "METROPOLIS_TEST_ROLLOUT_K8S"

// pdb keeps one hello pod running: a drain may evict one of the two, never both.
const pdb = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: hello}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: hello}}
`

// testRollout moves TestWorkers' cluster (node 1: the one consensus member, controller and
// worker; node 2: a worker) to release 2 with a rollout, forced (one consensus member: the
// Kubernetes API is down while node 1 reboots). Each node is cordoned and drained under a
// PodDisruptionBudget, updated, and uncordoned once Ready; afterwards both run release 2, are
// schedulable, and the Deployment runs its two pods again. A loop asks the Kubernetes API every
// second throughout and reports what failed.
func testRollout(t *testing.T, ctx context.Context, c *testenv.VMCluster, k *kubectl.Kubectl, ids []string) {
	mgmt := c.Mgmt
	if os.Getenv(rolloutTestEnv) == "" {
		t.Skipf("set %s=1 to roll a release with Kubernetes over both nodes (many minutes under TCG)", rolloutTestEnv)
	}
	must(t, k, pdb, "apply", "-f", "-")
	data := buildRelease2(t)
	probe := startAPIProbe(ctx, k)
	r, err := startRollout(ctx, mgmt, data, &apb.RolloutOptions{Force: true})
	if err != nil {
		t.Fatalf("start the rollout: %v", err)
	}
	started := time.Now()
	last, _ := followRollout(t, c, r, 60*time.Minute)
	if last.State != apb.RolloutState_ROLLOUT_STATE_DONE {
		t.Fatalf("rollout %s: %s", rollout.StateWords(last.State), last.Reason)
	}
	failed, longest := probe.stop()
	t.Logf("rollout of 2 nodes with Kubernetes done in %s; Kubernetes API: %d failed requests, longest gap %s (one controller: down while it reboots)",
		time.Since(started).Round(time.Second), failed, longest.Round(time.Second))

	checkRolledOut(t, ctx, mgmt, k, ids, ids)
}

// release2 is the version of the release the rollout tests move the cluster to.
const release2 = "2.0.0-test"

// buildRelease2 builds release 2 with Kubernetes, signed with signingKey, and returns its
// bundle.
func buildRelease2(t *testing.T) []byte {
	t.Helper()
	out := t.TempDir()
	o := mkimage.Options{
		OutDir: out, Version: release2, ReleaseKeys: [][]byte{releaseKey}, KubeBinary: kube, RuntimeDir: runtime,
		BundlePath: filepath.Join(out, "bundle"), SigningKey: signingKey,
	}
	if _, err := suite.Image(o); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(o.BundlePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("release 2 bundle: %d MiB", len(data)>>20)
	return data
}

// rolloutChanges reads the latest rollout and says what changed since last.
func rolloutChanges(ctx context.Context, mgmt apb.ManagementClient, last *apb.Rollout) (*apb.Rollout, []string, error) {
	stream, err := mgmt.GetRollout(ctx, &apb.GetRolloutRequest{})
	if err != nil {
		return last, nil, err
	}
	r, err := stream.Recv()
	if err != nil {
		return last, nil, err
	}
	return r, rollout.Changes(last, r), nil
}

// settledState says whether a rollout in state s changes no more unless an operator acts.
func settledState(s apb.RolloutState) bool {
	return rollout.Final(s) || s == apb.RolloutState_ROLLOUT_STATE_HALTED
}

// noneCordoned checks that no Kubernetes Node is cordoned or carries the rollout's mark.
func noneCordoned(k *kubectl.Kubectl) error {
	out, err := k.Run("", "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.spec.unschedulable}/{.metadata.annotations.metropolis\.dev/rollout-cordoned}{"\n"}{end}`)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasSuffix(line, "=/") {
			return fmt.Errorf("a node is still cordoned or marked: %q", out)
		}
	}
	return nil
}

// apiProbe asks the Kubernetes API every second, counting failures and the longest time
// without an answer.
type apiProbe struct {
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	failed  int
	longest time.Duration
}

func startAPIProbe(ctx context.Context, k *kubectl.Kubectl) *apiProbe {
	ctx, cancel := context.WithCancel(ctx)
	p := &apiProbe{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		lastOK := time.Now()
		for ctx.Err() == nil {
			_, err := k.Run("", "get", "--raw", "/readyz", "--request-timeout=5s")
			p.mu.Lock()
			if err != nil {
				p.failed++
				p.longest = max(p.longest, time.Since(lastOK))
			} else {
				lastOK = time.Now()
			}
			p.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return p
}

func (p *apiProbe) stop() (int, time.Duration) {
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed, p.longest
}

// startRollout uploads a bundle through StartRollout.
func startRollout(ctx context.Context, mgmt apb.ManagementClient, data []byte, opts *apb.RolloutOptions) (*apb.Rollout, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	stream, err := mgmt.StartRollout(ctx)
	if err != nil {
		return nil, err
	}
	meta := &apb.StartRolloutMetadata{Size: int64(len(data)), Options: opts}
	if err := stream.Send(&apb.StartRolloutRequest{Part: &apb.StartRolloutRequest_Metadata{Metadata: meta}}); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	for off := 0; off < len(data); off += 1 << 20 {
		chunk := data[off:min(off+1<<20, len(data))]
		if err := stream.Send(&apb.StartRolloutRequest{Part: &apb.StartRolloutRequest_Chunk{Chunk: chunk}}); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}
