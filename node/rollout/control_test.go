package rollout

import (
	"errors"
	"strings"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestApply(t *testing.T) {
	const (
		running = apb.RolloutState_ROLLOUT_STATE_RUNNING
		paused  = apb.RolloutState_ROLLOUT_STATE_PAUSED
		halted  = apb.RolloutState_ROLLOUT_STATE_HALTED
		abortd  = apb.RolloutState_ROLLOUT_STATE_ABORTED
		doneS   = apb.RolloutState_ROLLOUT_STATE_DONE
	)
	for _, tc := range []struct {
		from     apb.RolloutState
		c        Command
		revision int64 // of the command; the plan is at 5
		want     apb.RolloutState
		wantErr  string
		// wantSame: the command changes nothing, and the plan keeps its revision.
		wantSame bool
	}{
		{from: running, c: Pause, revision: 5, want: paused},
		{from: running, c: Pause, want: paused},
		{from: paused, c: Pause, revision: 5, want: paused, wantSame: true},
		{from: paused, c: Resume, revision: 5, want: running},
		{from: halted, c: Resume, revision: 5, want: running},
		{from: running, c: Resume, want: running, wantSame: true},
		{from: running, c: Abort, revision: 5, want: abortd},
		{from: halted, c: Abort, want: abortd},
		{from: abortd, c: Abort, want: abortd, wantSame: true},
		{from: running, c: Pause, revision: 4, wantErr: "applies (given 4, now 5)"},
		{from: halted, c: Pause, wantErr: "cannot pause rollout r: it is halted"},
		{from: abortd, c: Resume, wantErr: "cannot resume rollout r: it is aborted"},
		{from: doneS, c: Abort, wantErr: "cannot abort rollout r: it is done"},
		{from: running, c: Command(9), wantErr: "unknown command"},
	} {
		t.Run(StateWords(tc.from)+" "+tc.c.String(), func(t *testing.T) {
			r := &apb.Rollout{Id: "r", State: tc.from, Revision: 5}
			next, err := Apply(r, tc.c, tc.revision, "owner", t0)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if next.State != tc.want {
				t.Errorf("state %s, want %s", StateWords(next.State), StateWords(tc.want))
			}
			if wantRev := map[bool]int64{true: 5, false: 6}[tc.wantSame]; next.Revision != wantRev {
				t.Errorf("revision %d, want %d", next.Revision, wantRev)
			}
			if r.State != tc.from {
				t.Error("Apply modified its input")
			}
		})
	}
	if _, err := Apply(&apb.Rollout{Revision: 2}, Pause, 1, "", t0); !errors.Is(err, ErrStale) {
		t.Errorf("a stale revision: %v, want ErrStale", err)
	}
}

// TestResumeRetries: resuming a halted rollout makes its failed node pending again, and the
// next step starts it as a new attempt, whose target differs from the failed one's.
func TestResumeRetries(t *testing.T) {
	r := plan(t, nil, map[string]apb.RolloutPhase{"m2": rebooting})
	failedOnce := withOther(node("m2", "consensus", "controller"), rel2, apb.SlotState_SLOT_STATE_ROLLED_BACK, "rollout-1/1", "exited")
	r, _ = Step(r, view(time.Minute, replace(nil, failedOnce)...))
	if r.State != apb.RolloutState_ROLLOUT_STATE_HALTED {
		t.Fatalf("not halted: %s", phases(r))
	}
	r, err := Apply(r, Resume, r.Revision, "owner", t0.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if m := nodeOf(r, "m2").Message; !strings.Contains(m, "retried after: rolled back") {
		t.Errorf("the retried node says %q", m)
	}
	// The old attempt's rollback stays in the node's report; it must not fail the new one.
	r, _ = Step(r, view(3*time.Minute, replace(nil, failedOnce)...))
	rn := nodeOf(r, "m2")
	if rn.Phase != installing || rn.Attempt != 2 || Target(r, rn) != "rollout-1/2" {
		t.Errorf("after resuming: %s, attempt %d, target %s", phaseShort(rn.Phase), rn.Attempt, Target(r, rn))
	}
	if r.State != apb.RolloutState_ROLLOUT_STATE_RUNNING {
		t.Errorf("rollout %s: %s", StateWords(r.State), r.Reason)
	}
}

func TestWantFor(t *testing.T) {
	r := &apb.Rollout{Id: "r"}
	for _, tc := range []struct {
		phase apb.RolloutPhase
		want  Want
	}{
		{pending, Want{Uncordoned: true}},
		{draining, Want{Cordoned: true, Drained: true}},
		{installing, Want{Cordoned: true, Target: "r/1"}},
		{rebooting, Want{Cordoned: true, Target: "r/1"}},
		{returning, Want{Uncordoned: true, Target: "r/1"}},
		{done, Want{Uncordoned: true}},
		{failed, Want{Uncordoned: true}},
		{apb.RolloutPhase_ROLLOUT_PHASE_SKIPPED, Want{Uncordoned: true}},
	} {
		if got := WantFor(r, &apb.RolloutNode{Phase: tc.phase, Attempt: 1}); got != tc.want {
			t.Errorf("%s: %+v, want %+v", phaseShort(tc.phase), got, tc.want)
		}
	}
}

func TestChanges(t *testing.T) {
	r := plan(t, nil, nil)
	next, _ := Step(r, view(0, replace(nil, func() Node { n := node("m3", "consensus", "worker"); n.ConsensusHealthy = false; return n }())...))
	got := strings.Join(Changes(r, next), "; ")
	if want := "node m2 pending: waiting for consensus member m3 to be healthy"; !strings.HasPrefix(got, want) {
		t.Errorf("changes %q, want it to start with %q", got, want)
	}
	halted, _ := Apply(next, Abort, 0, "owner", t0)
	if got := strings.Join(Changes(next, halted), "; "); got != "rollout rollout-1 aborted: aborted by owner" {
		t.Errorf("changes %q", got)
	}
	if got := Changes(r, r); len(got) != 0 {
		t.Errorf("changes of a plan to itself: %q", got)
	}
}

func TestSettled(t *testing.T) {
	r := plan(t, nil, map[string]apb.RolloutPhase{"m2": installing})
	for _, tc := range []struct {
		state apb.RolloutState
		phase apb.RolloutPhase
		want  bool
	}{
		{apb.RolloutState_ROLLOUT_STATE_RUNNING, done, false},
		{apb.RolloutState_ROLLOUT_STATE_ABORTED, installing, false},
		{apb.RolloutState_ROLLOUT_STATE_ABORTED, done, true},
		{apb.RolloutState_ROLLOUT_STATE_DONE, done, true},
	} {
		r.State, r.Nodes[0].Phase = tc.state, tc.phase
		if got := Settled(r); got != tc.want {
			t.Errorf("%s with a node %s: settled %v, want %v", StateWords(tc.state), phaseShort(tc.phase), got, tc.want)
		}
	}
}
