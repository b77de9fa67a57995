package supervisor

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestBackoffNext(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, ResetAfter: time.Minute}
	for _, tc := range []struct {
		name       string
		previous   time.Duration
		healthyFor time.Duration
		want       time.Duration
	}{
		{"first failure starts at Initial", 0, 0, 100 * time.Millisecond},
		{"second failure doubles", 100 * time.Millisecond, 0, 200 * time.Millisecond},
		{"doubling continues", 400 * time.Millisecond, 0, 800 * time.Millisecond},
		{"capped at Max", 800 * time.Millisecond, 0, time.Second},
		{"stays at Max", time.Second, 0, time.Second},
		{"healthy briefly: keeps growing", 400 * time.Millisecond, 59 * time.Second, 800 * time.Millisecond},
		{"healthy for ResetAfter: back to Initial", time.Second, time.Minute, 100 * time.Millisecond},
		{"overflow is capped, not negative", time.Duration(1<<62) + 1, 0, time.Second},
	} {
		if got := b.Next(tc.previous, tc.healthyFor); got != tc.want {
			t.Errorf("%s: Next(%v, %v) = %v, want %v", tc.name, tc.previous, tc.healthyFor, got, tc.want)
		}
	}
}

func TestBackoffDefaultsFillGaps(t *testing.T) {
	got := Backoff{Initial: time.Second, Max: time.Millisecond, Multiplier: 0.5}.withDefaults()
	want := Backoff{Initial: time.Second, Max: time.Second, Multiplier: 1, ResetAfter: DefaultBackoff().ResetAfter}
	if got != want {
		t.Errorf("withDefaults() = %+v, want %+v (Max raised to Initial, Multiplier to 1, ResetAfter defaulted)", got, want)
	}
}

// TestBackoffGrowsWithEachRestart fails a runnable a set number of times and
// then lets it run; the backoff the supervisor applied before the last
// restart must follow the policy. No wall-clock assertions: the state is
// stable once the runnable stays up.
func TestBackoffGrowsWithEachRestart(t *testing.T) {
	policy := Backoff{Initial: time.Millisecond, Max: 8 * time.Millisecond, Multiplier: 2, ResetAfter: time.Hour}
	for _, tc := range []struct {
		name     string
		failures int
		want     time.Duration
	}{
		{"one failure waits Initial", 1, time.Millisecond},
		{"three failures doubled twice", 3, 4 * time.Millisecond},
		{"six failures capped at Max", 6, 8 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var starts atomic.Int32
			s, _ := startTree(t, withChild("flaky", func(ctx context.Context) error {
				if int(starts.Add(1)) <= tc.failures {
					return errors.New("not yet")
				}
				return blockUntilCancelled(ctx)
			}), WithBackoff(policy))
			st := waitState(t, s, "root.flaky", "up after failures", func(st NodeState) bool { return st.State == StateHealthy })
			if st.Restarts != tc.failures || st.Backoff != tc.want {
				t.Errorf("restarts %d, last backoff %v; want %d, %v", st.Restarts, st.Backoff, tc.failures, tc.want)
			}
		})
	}
}

func TestBackoffResetsAfterHealthyPeriod(t *testing.T) {
	policy := Backoff{Initial: time.Millisecond, Max: time.Hour, Multiplier: 10, ResetAfter: time.Millisecond}
	var starts atomic.Int32
	stayedHealthy := make(chan struct{})
	s, _ := startTree(t, withChild("svc", func(ctx context.Context) error {
		switch starts.Add(1) {
		case 1, 2:
			return errors.New("early failure")
		case 3:
			Signal(ctx, SignalHealthy)
			<-stayedHealthy // long past ResetAfter
			return errors.New("failure after a healthy spell")
		}
		return blockUntilCancelled(ctx)
	}), WithBackoff(policy))
	waitState(t, s, "root.svc", "healthy after two failures", func(st NodeState) bool {
		return st.Restarts == 2 && st.State == StateHealthy && st.Backoff == 10*time.Millisecond
	})
	time.Sleep(5 * time.Millisecond) // exceed ResetAfter; only makes the test pass, never flake
	close(stayedHealthy)
	st := waitState(t, s, "root.svc", "restarted a third time", func(st NodeState) bool {
		return st.Restarts == 3 && st.State == StateHealthy
	})
	if st.Backoff != time.Millisecond {
		t.Errorf("backoff after a healthy spell = %v, want it reset to %v", st.Backoff, time.Millisecond)
	}
}
