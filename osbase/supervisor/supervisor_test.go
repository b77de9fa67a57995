package supervisor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"metropolis.dev/metropolis/osbase/eventually"
)

func TestFailedRunnableIsRestarted(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fail    func(ctx context.Context) error
		wantErr string
	}{
		{"returns an error", func(ctx context.Context) error { return errors.New("disk on fire") }, "disk on fire"},
		{"returns nil without signalling done", func(ctx context.Context) error { return nil }, "without signalling done"},
		{"signals done but returns an error", func(ctx context.Context) error {
			Signal(ctx, SignalDone)
			return errors.New("late failure")
		}, "late failure"},
		{"panics", func(ctx context.Context) error { panic("nil map somewhere") }, "panic: nil map somewhere"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var starts atomic.Int32
			s, _ := startTree(t, withChild("svc", func(ctx context.Context) error {
				if starts.Add(1) == 1 {
					return tc.fail(ctx)
				}
				return blockUntilCancelled(ctx)
			}))
			st := waitState(t, s, "root.svc", "restarted and healthy", func(st NodeState) bool {
				return st.Restarts == 1 && st.State == StateHealthy
			})
			if st.LastError == nil || !strings.Contains(st.LastError.Error(), tc.wantErr) {
				t.Errorf("LastError = %v, want it to mention %q", st.LastError, tc.wantErr)
			}
			if !logContains(t, s.LogTree(), "root.svc", "runnable failed", tc.wantErr) {
				t.Error("failure not logged in the runnable's DN")
			}
			if root, _ := s.StateOf("root"); root.Restarts != 0 {
				t.Errorf("root restarted %d times, want 0: a child's failure is not its parent's", root.Restarts)
			}
		})
	}
}

func TestPanicStackTraceIsLogged(t *testing.T) {
	var starts atomic.Int32
	s, _ := startTree(t, withChild("crashy", func(ctx context.Context) error {
		if starts.Add(1) == 1 {
			explode()
		}
		return blockUntilCancelled(ctx)
	}))
	waitState(t, s, "root.crashy", "restarted", func(st NodeState) bool { return st.Restarts == 1 })
	if !logContains(t, s.LogTree(), "root.crashy", "panic: kaboom", "goroutine", "supervisor.explode", "supervisor_test.go") {
		t.Error("log of root.crashy has no entry with the panic value and a stack trace through the test")
	}
}

// explode panics from a named function, so the test can find it in the
// logged stack trace.
func explode() { panic("kaboom") }

func TestDoneRunnableIsNotRestarted(t *testing.T) {
	var oneShotStarts, canaryStarts atomic.Int32
	s, _ := startTree(t, func(ctx context.Context) error {
		if err := Run(ctx, "oneshot", func(ctx context.Context) error {
			oneShotStarts.Add(1)
			Signal(ctx, SignalDone)
			return nil
		}); err != nil {
			return err
		}
		// The canary keeps failing: once it has been restarted a few times,
		// the one-shot has had every chance to be restarted too.
		if err := Run(ctx, "canary", func(ctx context.Context) error {
			canaryStarts.Add(1)
			return errors.New("canary fails")
		}); err != nil {
			return err
		}
		return blockUntilCancelled(ctx)
	})
	eventually.Pass(t, patience, "canary restarted 5 times", func(context.Context) error {
		if n := canaryStarts.Load(); n < 6 {
			return fmt.Errorf("%d starts", n)
		}
		return nil
	})
	st, _ := s.StateOf("root.oneshot")
	if st.State != StateDone || st.Restarts != 0 || oneShotStarts.Load() != 1 {
		t.Errorf("oneshot: state %v, %d restarts, %d starts; want done, 0, 1", st.State, st.Restarts, oneShotStarts.Load())
	}
}

func TestHealthyIsVisibleInStates(t *testing.T) {
	release := make(chan struct{})
	s, _ := startTree(t, withChild("svc", func(ctx context.Context) error {
		<-release
		Signal(ctx, SignalHealthy)
		<-ctx.Done()
		return ctx.Err()
	}))
	waitState(t, s, "root.svc", "new", func(st NodeState) bool { return st.State == StateNew })
	close(release)
	waitState(t, s, "root.svc", "healthy", func(st NodeState) bool { return st.State == StateHealthy })
}

func TestDoneRunnableKeepsItsChildren(t *testing.T) {
	s, _ := startTree(t, withChild("starter", func(ctx context.Context) error {
		if err := Run(ctx, "worker", blockUntilCancelled); err != nil {
			return err
		}
		Signal(ctx, SignalDone)
		return nil
	}))
	waitState(t, s, "root.starter", "done", func(st NodeState) bool { return st.State == StateDone })
	waitState(t, s, "root.starter.worker", "healthy after its parent is done", func(st NodeState) bool {
		return st.State == StateHealthy
	})
}

func TestLoggersWriteToTheRunnablesDN(t *testing.T) {
	s, _ := startTree(t, withChild("svc", func(ctx context.Context) error {
		if DN(ctx) != "root.svc" {
			return errors.New("wrong DN " + string(DN(ctx)))
		}
		Logger(ctx).Info("leveled hello")
		RawLogger(ctx).Write([]byte("raw hello\n"))
		return blockUntilCancelled(ctx)
	}))
	waitState(t, s, "root.svc", "healthy", func(st NodeState) bool { return st.State == StateHealthy })
	if !logContains(t, s.LogTree(), "root.svc", "I", "root.svc supervisor_test.go", "] leveled hello") {
		t.Error("leveled entry missing from root.svc or not attributed to the test file")
	}
	if !logContains(t, s.LogTree(), "root.svc", "R", "] raw hello") {
		t.Error("raw entry missing from root.svc")
	}
}

// TestOfIsTheRunningSupervisor: a runnable (here a child) finds the supervisor of its tree
// from its context.
func TestOfIsTheRunningSupervisor(t *testing.T) {
	found := make(chan *Supervisor, 1)
	s, _ := startTree(t, withChild("svc", func(ctx context.Context) error {
		found <- Of(ctx)
		return blockUntilCancelled(ctx)
	}))
	if got := <-found; got != s {
		t.Errorf("Of(ctx) = %p, want the tree's supervisor %p", got, s)
	}
}
