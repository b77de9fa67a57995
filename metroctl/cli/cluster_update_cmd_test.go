package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestClusterUpdateRefusesBadArguments(t *testing.T) {
	e := newTestEnv(t, true)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "release.bundle")
	if err := os.WriteFile(bundle, []byte("bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no bundle", nil, "accepts 1 arg(s), received 0"},
		{"missing bundle", []string{filepath.Join(dir, "missing")}, "no such file or directory"},
		{"a directory", []string{dir}, "is not a regular file"},
		{"max-unavailable negative", []string{bundle, "--max-unavailable", "-1"}, "max_unavailable: -1 is not between 1 and 1000"},
		{"drain timeout too short", []string{bundle, "--drain-timeout", "5s"}, "drain_timeout: 5s is not between 1m and 24h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.cluster.recorded())
			r := e.run("", append([]string{"cluster", "update"}, tc.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("want an error with %q:\n%v", tc.want, r)
			}
			if calls := e.cluster.recorded()[before:]; len(calls) != 0 {
				t.Errorf("calls made despite the bad arguments: %v", calls)
			}
		})
	}
}

func TestClusterUpdate(t *testing.T) {
	e := newTestEnv(t, true)
	bundle := filepath.Join(t.TempDir(), "release.bundle")
	data := bytes.Repeat([]byte("b"), 3*imageChunkSize+7)
	if err := os.WriteFile(bundle, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("", "cluster", "update", bundle, "--max-unavailable", "2", "--force")
	if r.code != 0 {
		t.Fatalf("cluster update: %v", r)
	}
	meta := e.cluster.lastRequest().(*apb.StartRolloutMetadata)
	if meta.Size != int64(len(data)) || meta.Options.MaxUnavailable != 2 || !meta.Options.Force || e.cluster.rolloutBytes != len(data) {
		t.Errorf("uploaded %d bytes with %v", e.cluster.rolloutBytes, meta)
	}
	for _, want := range []string{"Rollout rollout-0123456789abcdef to release 2.0.0 started", e.cluster.nodeID + "  consensus  pending", "status --watch"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}

	r = e.run("", "cluster", "update", "status", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"id": "rollout-0123456789abcdef"`) {
		t.Errorf("status -o json: %v", r)
	}

	r = e.run("", "cluster", "update", "pause")
	if r.code != 0 || !strings.Contains(r.stdout, "is paused (revision 2)") {
		t.Fatalf("pause: %v", r)
	}
	req := e.cluster.lastRequest().(*apb.ControlRolloutRequest)
	if req.Id != "rollout-0123456789abcdef" || req.Command != apb.RolloutCommand_ROLLOUT_COMMAND_PAUSE || req.Revision != 0 {
		t.Errorf("pause sent %v", req)
	}
	if r := e.run("", "cluster", "update", "resume", "--revision", "1"); r.code == 0 || !strings.Contains(r.stderr, "changed since the revision given") {
		t.Errorf("resume at a stale revision: %v", r)
	}
	if r := e.run("", "cluster", "update", "abort", "--revision", "2"); r.code != 0 || !strings.Contains(r.stdout, "is aborted") {
		t.Errorf("abort: %v", r)
	}
	if r := e.run("", "cluster", "update", "resume"); r.code == 0 || !strings.Contains(r.stderr, "cannot resume rollout rollout-0123456789abcdef: it is aborted") {
		t.Errorf("resume after abort: %v", r)
	}
}

// TestClusterUpdateWatch follows a rollout to its end, and to a halt (an error).
func TestClusterUpdateWatch(t *testing.T) {
	e := newTestEnv(t, true)
	if r := e.run("", "cluster", "update", "status"); r.code == 0 || !strings.Contains(r.stderr, "never had a rollout") {
		t.Fatalf("status without a rollout: %v", r)
	}
	plan := &apb.Rollout{Id: "rollout-1", Release: &apb.BundleManifest{Version: "2.0.0"}, State: apb.RolloutState_ROLLOUT_STATE_RUNNING,
		Nodes: []*apb.RolloutNode{{NodeId: e.cluster.nodeID, Phase: apb.RolloutPhase_ROLLOUT_PHASE_PENDING}}}
	step := func(mod func(*apb.Rollout)) *apb.Rollout {
		r := proto.Clone(plan).(*apb.Rollout)
		mod(r)
		return r
	}
	installing := step(func(r *apb.Rollout) { r.Nodes[0].Phase = apb.RolloutPhase_ROLLOUT_PHASE_INSTALLING })
	done := step(func(r *apb.Rollout) {
		r.Nodes[0].Phase = apb.RolloutPhase_ROLLOUT_PHASE_DONE
		r.State = apb.RolloutState_ROLLOUT_STATE_DONE
	})
	e.cluster.mu.Lock()
	e.cluster.rollout, e.cluster.rolloutWatch = plan, []*apb.Rollout{installing, done}
	e.cluster.mu.Unlock()
	r := e.run("", "cluster", "update", "status", "--watch")
	for _, want := range []string{"node " + e.cluster.nodeID + " installing", "rollout rollout-1 done", "Rollout rollout-1 is done: every node runs 2.0.0."} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("watch to the end lacks %q: %v", want, r)
		}
	}

	halted := step(func(r *apb.Rollout) {
		r.Nodes[0].Phase, r.Nodes[0].Message = apb.RolloutPhase_ROLLOUT_PHASE_FAILED, "rolled back to 1.0.0: exited"
		r.State, r.Reason = apb.RolloutState_ROLLOUT_STATE_HALTED, "node x failed: rolled back to 1.0.0: exited"
	})
	e.cluster.mu.Lock()
	e.cluster.rollout, e.cluster.rolloutWatch = plan, []*apb.Rollout{installing, halted}
	e.cluster.mu.Unlock()
	r = e.run("", "cluster", "update", "status", "--watch")
	if r.code == 0 || !strings.Contains(r.stderr, "rollout rollout-1 halted: node x failed: rolled back to 1.0.0: exited (resume or abort it)") {
		t.Errorf("watch to a halt: %v", r)
	}
}
