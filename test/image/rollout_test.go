package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/rollout"
	"metropolis.dev/metropolis/node/rpc"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// testRollouts moves a three-member cluster to release 2 with a rollout the cluster runs
// itself, on TestThreeNodes' cluster: a bundle that does not verify is refused; with
// METROPOLIS_TEST_ROLLBACK, a release whose node program exits fails at the first node, the
// rollout halts and no other node is touched; then release 2 reaches every node, one at a
// time, the curator leader's node last (the plan goes on from the next leader), each fetching
// the bundle from a node that keeps it.
func testRollouts(t *testing.T, c *testenv.VMCluster) {
	ctx := context.Background()
	mgmt := c.Mgmt
	release2 := buildRelease(t, "2.0.0-test", "")
	// A node that is not back within two boots halts the rollout, and the test with it, well
	// before the default half hour would.
	opts := &apb.RolloutOptions{NodeTimeout: durationpb.New(2 * bootTimeout)}

	t.Run("a rollout whose bundle does not verify is refused", func(t *testing.T) {
		data, err := os.ReadFile(release2.bundle)
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.Clone(data)
		data[len(data)-4096] ^= 1 // inside the system part, past the manifest's signature
		_, err = startRollout(ctx, mgmt, data, nil)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("a changed bundle: %v; want InvalidArgument saying what does not match", err)
		}
		if r, err := latestRollout(ctx, mgmt); status.Code(err) != codes.NotFound {
			t.Fatalf("after the refusal the cluster has rollout %v (%v); want none", r, err)
		}
	})

	t.Run("a release whose node program exits halts the rollout at its first node", func(t *testing.T) {
		if os.Getenv(rollbackTestEnv) == "" {
			t.Skipf("set %s=1 to roll out a broken release (a few minutes more under TCG)", rollbackTestEnv)
		}
		bad := buildRelease(t, "3.0.0-exits", "./testdata/exitnode")
		data, err := os.ReadFile(bad.bundle)
		if err != nil {
			t.Fatal(err)
		}
		before := softwareByNode(t, mgmt)
		r, err := startRollout(ctx, mgmt, data, opts)
		if err != nil {
			t.Fatalf("start the rollout: %v", err)
		}
		started := time.Now()
		r = waitRollout(t, mgmt, r, 3*bootTimeout, "the rollout halted", func(r *apb.Rollout) bool {
			return r.State == apb.RolloutState_ROLLOUT_STATE_HALTED
		})
		t.Logf("halted %s after the start: %s", time.Since(started).Round(time.Second), r.Reason)
		first := r.Nodes[0]
		if first.Phase != apb.RolloutPhase_ROLLOUT_PHASE_FAILED || !strings.Contains(first.Message, "rolled back") {
			t.Errorf("the first node: %s, %q; want failed, rolled back", rollout.PhaseWords(first.Phase), first.Message)
		}
		after := softwareByNode(t, mgmt)
		for _, rn := range r.Nodes[1:] {
			if rn.Phase != apb.RolloutPhase_ROLLOUT_PHASE_PENDING {
				t.Errorf("node %s is %s; want pending, never started", rn.NodeId, rollout.PhaseWords(rn.Phase))
			}
			if b, a := before[rn.NodeId], after[rn.NodeId]; slotState(a, "B") != slotState(b, "B") || a.GetVersion() != b.GetVersion() {
				t.Errorf("node %s changed although its turn never came: %v → %v", rn.NodeId, b, a)
			}
		}
		if sw := after[first.NodeId]; sw.GetVersion() != release1 {
			t.Errorf("the first node runs %q after its rollback; want %s", sw.GetVersion(), release1)
		}
		if _, err := mgmt.ControlRollout(ctx, &apb.ControlRolloutRequest{Id: r.Id, Command: apb.RolloutCommand_ROLLOUT_COMMAND_ABORT}); err != nil {
			t.Fatalf("abort: %v", err)
		}
	})

	t.Run("the cluster rolls to release 2, the leader last", func(t *testing.T) {
		data, err := os.ReadFile(release2.bundle)
		if err != nil {
			t.Fatal(err)
		}
		leader, err := rpc.CurrentLeader(ctx, c.Conn)
		if err != nil {
			t.Fatal(err)
		}
		// The node the broken release rolled back may still be rebooting, and the cluster
		// rightly refuses a rollout while a consensus member is unhealthy: wait until it
		// accepts, failing at once on any other refusal.
		var r *apb.Rollout
		eventually.Pass(t, 2*bootTimeout, "the cluster accepting the rollout (every consensus member healthy)", func(context.Context) error {
			var err error
			r, err = startRollout(ctx, mgmt, data, opts)
			if status.Code(err) == codes.FailedPrecondition && strings.Contains(err.Error(), "not healthy") {
				return err
			}
			if err != nil {
				t.Fatalf("start the rollout: %v", err)
			}
			return nil
		})
		started := time.Now()
		if last := r.Nodes[len(r.Nodes)-1].NodeId; last != leader.NodeID {
			t.Errorf("the plan updates %s last, not the leader %s", last, leader.NodeID)
		}
		r = waitRollout(t, mgmt, r, 3*2*bootTimeout, "the rollout done", func(r *apb.Rollout) bool {
			return r.State == apb.RolloutState_ROLLOUT_STATE_DONE
		})
		t.Logf("rollout of %d nodes to %s done in %s; bundle kept by %d nodes", len(r.Nodes), r.Release.Version, time.Since(started).Round(time.Second), len(r.BundleHolders))
		for id, sw := range softwareByNode(t, mgmt) {
			if sw.GetVersion() != "2.0.0-test" || slotState(sw, sw.GetRunningSlot()) != apb.SlotState_SLOT_STATE_COMMITTED {
				t.Errorf("node %s after the rollout: %v", id, sw)
			}
		}
		if len(r.BundleHolders) < 2 {
			t.Errorf("only %v keep the bundle: the nodes did not hand it on", r.BundleHolders)
		}
		now, err := rpc.CurrentLeader(ctx, c.Conn)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("curator leader before the rollout %s, after it %s", leader.NodeID, now.NodeID)
	})
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

func latestRollout(ctx context.Context, mgmt apb.ManagementClient) (*apb.Rollout, error) {
	stream, err := mgmt.GetRollout(ctx, &apb.GetRolloutRequest{})
	if err != nil {
		return nil, err
	}
	return stream.Recv()
}

// waitRollout polls the latest rollout until done says so, logging every change on the way,
// and returns it.
func waitRollout(t *testing.T, mgmt apb.ManagementClient, last *apb.Rollout, timeout time.Duration, what string, done func(*apb.Rollout) bool) *apb.Rollout {
	t.Helper()
	started := time.Now()
	eventually.Pass(t, timeout, what, func(ctx context.Context) error {
		r, err := latestRollout(ctx, mgmt)
		if err != nil {
			return err
		}
		for _, c := range rollout.Changes(last, r) {
			t.Logf("[%6.1fs] %s", time.Since(started).Seconds(), c)
		}
		last = r
		if done(r) {
			return nil
		}
		if settled(r.State) {
			// Nothing changes a halted, aborted or finished rollout any more: waiting out the
			// timeout would only hide why it stopped.
			t.Fatalf("waiting for %s: rollout %s is %s: %s", what, r.Id, rollout.StateWords(r.State), r.Reason)
		}
		return fmt.Errorf("rollout %s is %s", r.Id, rollout.StateWords(r.State))
	})
	return last
}

// settled says whether a rollout in state s stays there unless an operator acts: final, or
// halted by a failure.
func settled(s apb.RolloutState) bool {
	return rollout.Final(s) || s == apb.RolloutState_ROLLOUT_STATE_HALTED
}

// softwareByNode is every node's software report.
func softwareByNode(t *testing.T, mgmt apb.ManagementClient) map[string]*apb.NodeSoftware {
	t.Helper()
	nodes, err := listNodes(context.Background(), mgmt)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*apb.NodeSoftware{}
	for _, n := range nodes {
		out[n.Id] = n.GetStatus().GetSoftware()
	}
	return out
}
