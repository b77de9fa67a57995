package curator

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/node/update/bundle/bundletest"
)

// upload starts a rollout with bundle b through the owner's connection.
func (c *testCluster) upload(b []byte, opts *apb.RolloutOptions) (*apb.Rollout, error) {
	stream, err := c.mgmt().StartRollout(callCtx(c.t))
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&apb.StartRolloutRequest{Part: &apb.StartRolloutRequest_Metadata{Metadata: &apb.StartRolloutMetadata{Size: int64(len(b)), Options: opts}}}); err != nil {
		return nil, err
	}
	for len(b) > 0 {
		n := min(len(b), 32<<10)
		if err := stream.Send(&apb.StartRolloutRequest{Part: &apb.StartRolloutRequest_Chunk{Chunk: b[:n]}}); err != nil {
			break // the server ended the call; CloseAndRecv says why
		}
		b = b[n:]
	}
	return stream.CloseAndRecv()
}

// keepBeating sends node n's heartbeats until the test ends.
func (c *testCluster) keepBeating(n *testNode) {
	ctx := callCtx(c.t)
	go func() {
		for ctx.Err() == nil {
			stream, err := cpb.NewCuratorClient(c.dial(n.cert)).Heartbeat(ctx)
			for err == nil {
				if err = stream.Send(&cpb.HeartbeatUpdateRequest{}); err == nil {
					_, err = stream.Recv()
				}
				time.Sleep(200 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
}

// reportSoftware sends node n's status: its address, a running curator, and sw.
func (c *testCluster) reportSoftware(n *testNode, sw *apb.NodeSoftware) {
	c.t.Helper()
	_, err := cpb.NewCuratorClient(c.dial(n.cert)).UpdateNodeStatus(callCtx(c.t), &cpb.UpdateNodeStatusRequest{
		Status: &apb.NodeStatus{ExternalAddress: n.ip, RunningCurator: &apb.NodeStatus_RunningCurator{Port: 7835}, Software: sw},
	})
	if err != nil {
		c.t.Fatalf("report the software of %s: %v", n.id, err)
	}
}

// waitFor polls cond until it holds or a minute passes, saying what it waits for.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(callTimeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last seen: %s", callTimeout, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *testCluster) storedTarget(id string) *cpb.UpdateTarget {
	c.t.Helper()
	n, err := getNode(callCtx(c.t), c.etcd, id)
	if err != nil {
		c.t.Fatal(err)
	}
	return n.GetUpdateTarget()
}

func (c *testCluster) latestRollout() *apb.Rollout {
	c.t.Helper()
	stream, err := c.mgmt().GetRollout(callCtx(c.t), &apb.GetRolloutRequest{})
	if err != nil {
		c.t.Fatal(err)
	}
	r, err := stream.Recv()
	if err != nil {
		c.t.Fatalf("get rollout: %v", err)
	}
	return r
}

func software(version, build string, other *apb.Slot) *apb.NodeSoftware {
	if other == nil {
		other = &apb.Slot{Name: "B", State: apb.SlotState_SLOT_STATE_EMPTY}
	}
	return &apb.NodeSoftware{Version: version, BuildId: build, RunningSlot: "A", Slots: []*apb.Slot{
		{Name: "A", State: apb.SlotState_SLOT_STATE_COMMITTED, Version: version, BuildId: build}, other,
	}}
}

// TestRollout runs a rollout through the curator with real etcd and a real bundle keeper:
// refusals, the stored plan, the node's update target, the node's reports moving the plan
// on, and the target cleared at the end.
func TestRollout(t *testing.T) {
	key := bundletest.NewKey(t)
	keeper := update.NewKeeper(t.TempDir(), []ed25519.PublicKey{key.Public})
	c := newTestClusterWith(t, clusterOptions{rolloutInterval: 100 * time.Millisecond, bundles: keeper})
	c.reportSoftware(c.first, software("1.0.0", "b1", nil))
	c.keepBeating(c.first)
	good := bundletest.Make(t, key, "2.0.0")
	wantCode := func(err error, code codes.Code, text string) {
		t.Helper()
		if status.Code(err) != code || !strings.Contains(err.Error(), text) {
			t.Fatalf("%v; want %v saying %q", err, code, text)
		}
	}

	stream, err := c.mgmt().GetRollout(callCtx(t), &apb.GetRolloutRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	wantCode(err, codes.NotFound, "never had a rollout")
	_, err = c.upload(good, nil)
	wantCode(err, codes.FailedPrecondition, "1 consensus member(s)")
	tampered := bytes.Clone(good)
	tampered[len(tampered)-2048] ^= 1
	_, err = c.upload(tampered, &apb.RolloutOptions{Force: true})
	wantCode(err, codes.InvalidArgument, "does not match")
	_, err = c.upload(bundletest.Make(t, bundletest.NewKey(t), "2.0.0"), &apb.RolloutOptions{Force: true})
	wantCode(err, codes.InvalidArgument, "not signed by a trusted release key")
	_, err = c.upload(good, &apb.RolloutOptions{Force: true, MaxUnavailable: -2})
	wantCode(err, codes.InvalidArgument, "max_unavailable")

	r, err := c.upload(good, &apb.RolloutOptions{Force: true})
	if err != nil {
		t.Fatalf("start a forced rollout on one node: %v", err)
	}
	sum := sha256.Sum256(good)
	if !bytes.Equal(r.BundleSha256, sum[:]) || r.Release.GetVersion() != "2.0.0" || len(r.Nodes) != 1 || r.BundleHolders[0] != c.first.id {
		t.Fatalf("stored plan: %v", r)
	}
	_, err = c.upload(good, &apb.RolloutOptions{Force: true})
	wantCode(err, codes.FailedPrecondition, "is running")

	// The leader tells the node to update (no sources: the only holder is the node itself).
	target := r.Id + "/1"
	waitFor(t, "the node's update target", func() (bool, string) {
		got := c.storedTarget(c.first.id)
		return got.GetTarget() == target && bytes.Equal(got.GetBundleSha256(), sum[:]), got.String()
	})
	if got := c.storedTarget(c.first.id); len(got.GetSources()) != 0 || got.GetRelease().GetVersion() != "2.0.0" {
		t.Errorf("target %v: want release 2.0.0 and no sources", got)
	}
	// The node stages it, then runs it.
	c.reportSoftware(c.first, software("1.0.0", "b1", &apb.Slot{Name: "B", State: apb.SlotState_SLOT_STATE_STAGED, Version: "2.0.0", BuildId: r.Release.BuildId, RolloutId: target}))
	waitFor(t, "the node rebooting", func() (bool, string) {
		r := c.latestRollout()
		return r.Nodes[0].Phase == apb.RolloutPhase_ROLLOUT_PHASE_REBOOTING, r.Nodes[0].String()
	})
	c.reportSoftware(c.first, &apb.NodeSoftware{Version: "2.0.0", BuildId: r.Release.BuildId, RunningSlot: "B", Slots: []*apb.Slot{
		{Name: "A", State: apb.SlotState_SLOT_STATE_PREVIOUS, Version: "1.0.0", BuildId: "b1"},
		{Name: "B", State: apb.SlotState_SLOT_STATE_COMMITTED, Version: "2.0.0", BuildId: r.Release.BuildId, RolloutId: target},
	}})
	waitFor(t, "the rollout done and the target cleared", func() (bool, string) {
		r := c.latestRollout()
		return r.State == apb.RolloutState_ROLLOUT_STATE_DONE && c.storedTarget(c.first.id) == nil, r.String()
	})
	_, err = c.mgmt().ControlRollout(callCtx(t), &apb.ControlRolloutRequest{Id: r.Id, Command: apb.RolloutCommand_ROLLOUT_COMMAND_ABORT})
	wantCode(err, codes.FailedPrecondition, "it is done")
}

// TestRolloutControl: pause, resume and abort through the API, with compare-and-set on the
// revision, and a watch seeing each change.
func TestRolloutControl(t *testing.T) {
	key := bundletest.NewKey(t)
	keeper := update.NewKeeper(t.TempDir(), []ed25519.PublicKey{key.Public})
	// A slow round, so the plan holds still between the test's reads and commands.
	c := newTestClusterWith(t, clusterOptions{rolloutInterval: time.Hour, bundles: keeper})
	c.reportSoftware(c.first, software("1.0.0", "b1", nil))
	r, err := c.upload(bundletest.Make(t, key, "2.0.0"), &apb.RolloutOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	watch, err := c.mgmt().GetRollout(callCtx(t), &apb.GetRolloutRequest{Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || first.Id != r.Id {
		t.Fatalf("watch: %v, %v", first, err)
	}
	control := func(cmd apb.RolloutCommand, id string, rev int64) (*apb.Rollout, error) {
		return c.mgmt().ControlRollout(callCtx(t), &apb.ControlRolloutRequest{Id: id, Command: cmd, Revision: rev})
	}
	cur := c.latestRollout()
	if _, err := control(apb.RolloutCommand_ROLLOUT_COMMAND_PAUSE, r.Id, cur.Revision+1); status.Code(err) != codes.Aborted {
		t.Fatalf("pause at a revision not yet reached: %v, want Aborted", err)
	}
	if _, err := control(apb.RolloutCommand_ROLLOUT_COMMAND_PAUSE, "rollout-0000000000000000", 0); status.Code(err) != codes.NotFound {
		t.Fatalf("pause of another rollout: %v, want NotFound", err)
	}
	if _, err := control(apb.RolloutCommand_ROLLOUT_COMMAND_UNSPECIFIED, r.Id, 0); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("no command: %v, want InvalidArgument", err)
	}
	paused, err := control(apb.RolloutCommand_ROLLOUT_COMMAND_PAUSE, r.Id, cur.Revision)
	if err != nil || paused.State != apb.RolloutState_ROLLOUT_STATE_PAUSED {
		t.Fatalf("pause: %v, %v", paused.GetState(), err)
	}
	again, err := control(apb.RolloutCommand_ROLLOUT_COMMAND_PAUSE, r.Id, 0)
	if err != nil || again.Revision != paused.Revision {
		t.Fatalf("pausing again: revision %d, %v; want %d, no error", again.GetRevision(), err, paused.Revision)
	}
	if seen, err := watch.Recv(); err != nil || seen.State != apb.RolloutState_ROLLOUT_STATE_PAUSED {
		t.Fatalf("the watch after pausing: %v, %v", seen.GetState(), err)
	}
	aborted, err := control(apb.RolloutCommand_ROLLOUT_COMMAND_ABORT, r.Id, 0)
	if err != nil || aborted.State != apb.RolloutState_ROLLOUT_STATE_ABORTED || !strings.Contains(aborted.Reason, "aborted by") {
		t.Fatalf("abort: %v, %v", aborted, err)
	}
	if _, err := control(apb.RolloutCommand_ROLLOUT_COMMAND_RESUME, r.Id, 0); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("resume after abort: %v, want FailedPrecondition", err)
	}
	// Another rollout may start once the last is final.
	if _, err := c.upload(bundletest.Make(t, key, "3.0.0"), &apb.RolloutOptions{Force: true}); err != nil {
		t.Fatalf("a rollout after an aborted one: %v", err)
	}
}
