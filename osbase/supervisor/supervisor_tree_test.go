package supervisor

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestParentRestartWaitsForWholeSubtree fails a parent while its child and
// grandchild are still running, each slow to stop. The parent's next
// instance must only start after both have returned.
func TestParentRestartWaitsForWholeSubtree(t *testing.T) {
	var parentStarts atomic.Int32
	var descendantsRunning atomic.Int32
	var overlapped atomic.Bool
	slowToStop := func(next Runnable) Runnable {
		return func(ctx context.Context) error {
			descendantsRunning.Add(1)
			defer descendantsRunning.Add(-1)
			if next != nil {
				if err := Run(ctx, "grandchild", next); err != nil {
					return err
				}
			}
			Signal(ctx, SignalHealthy)
			<-ctx.Done()
			time.Sleep(20 * time.Millisecond) // a slow shutdown widens any overlap
			return ctx.Err()
		}
	}
	failParent := make(chan struct{})
	s, _ := startTree(t, withChild("parent", func(ctx context.Context) error {
		first := parentStarts.Add(1) == 1
		if !first && descendantsRunning.Load() != 0 {
			overlapped.Store(true)
		}
		if err := Run(ctx, "child", slowToStop(slowToStop(nil))); err != nil {
			return err
		}
		if first {
			select {
			case <-failParent:
				return errors.New("parent fails")
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return blockUntilCancelled(ctx)
	}))
	waitState(t, s, "root.parent.child.grandchild", "healthy", func(st NodeState) bool { return st.State == StateHealthy })
	close(failParent)
	waitState(t, s, "root.parent", "restarted", func(st NodeState) bool { return st.Restarts >= 1 })
	if overlapped.Load() {
		t.Error("parent restarted while its old child or grandchild was still running")
	}
	waitState(t, s, "root.parent.child.grandchild", "healthy again", func(st NodeState) bool { return st.State == StateHealthy })
}

func TestGroupMembersRestartTogether(t *testing.T) {
	var aStarts, bStarts atomic.Int32
	bStopped := make(chan struct{}, 10)
	s, _ := startTree(t, func(ctx context.Context) error {
		err := RunGroup(ctx, map[string]Runnable{
			"a": func(ctx context.Context) error {
				if aStarts.Add(1) == 1 {
					return errors.New("a fails once")
				}
				return blockUntilCancelled(ctx)
			},
			"b": func(ctx context.Context) error {
				bStarts.Add(1)
				Signal(ctx, SignalHealthy)
				<-ctx.Done()
				bStopped <- struct{}{}
				return ctx.Err()
			},
		})
		if err != nil {
			return err
		}
		return blockUntilCancelled(ctx)
	})
	b := waitState(t, s, "root.b", "restarted with its sibling", func(st NodeState) bool {
		return st.Restarts == 1 && st.State == StateHealthy
	})
	if len(bStopped) != 1 || bStarts.Load() != 2 {
		t.Errorf("b was stopped %d times and started %d times, want 1 and 2", len(bStopped), bStarts.Load())
	}
	if b.LastError != nil {
		t.Errorf("b has LastError %v, want none: it did not fail itself", b.LastError)
	}
	if !logContains(t, s.LogTree(), "root.b", "group member a failed") {
		t.Error("b's log does not say why it was stopped")
	}
}

func TestCancelStopsWholeTreeAndWaits(t *testing.T) {
	release := make(chan struct{})
	s, cancel := startTree(t, withChild("a", withChild("b", func(ctx context.Context) error {
		Signal(ctx, SignalHealthy)
		<-ctx.Done()
		<-release // refuses to stop until released
		return ctx.Err()
	})))
	waitState(t, s, "root.a.b", "healthy", func(st NodeState) bool { return st.State == StateHealthy })
	cancel()
	waitState(t, s, "root.a.b", "canceling", func(st NodeState) bool { return st.State == StateCanceling })
	select {
	case <-s.Done():
		t.Fatal("Done closed while root.a.b was still running")
	default:
	}
	close(release)
	select {
	case <-s.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("Done not closed after the last runnable returned")
	}
	for _, st := range s.States() {
		if st.State != StateDead {
			t.Errorf("%s is %v after shutdown, want dead", st.DN, st.State)
		}
		if st.Restarts != 0 {
			t.Errorf("%s restarted %d times: stopping is not failing", st.DN, st.Restarts)
		}
	}
}

func TestRunRejectsBadRequests(t *testing.T) {
	errs := make(chan error, 1)
	startTree(t, func(ctx context.Context) error {
		var found []string
		check := func(what string, err error, want string) {
			if err == nil || !strings.Contains(err.Error(), want) {
				found = append(found, what+": got "+errString(err)+", want error containing "+want)
			}
		}
		check("name with a dot", Run(ctx, "a.b", blockUntilCancelled), "character '.'")
		check("empty name", Run(ctx, "", blockUntilCancelled), "name is empty")
		check("nil runnable", Run(ctx, "nil", nil), "runnable is nil")
		check("empty group", RunGroup(ctx, nil), "no runnables")
		if err := Run(ctx, "dup", blockUntilCancelled); err != nil {
			found = append(found, "first dup: "+err.Error())
		}
		check("duplicate name", Run(ctx, "dup", blockUntilCancelled), `"dup" already exists`)
		check("outside context", Run(context.Background(), "x", blockUntilCancelled), "does not belong to a supervised runnable")
		if len(found) > 0 {
			errs <- errors.New(strings.Join(found, "\n"))
		} else {
			errs <- nil
		}
		return blockUntilCancelled(ctx)
	})
	select {
	case err := <-errs:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("root runnable never reported")
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func TestReturnedRunnableCannotStartChildren(t *testing.T) {
	leaked := make(chan context.Context, 1)
	s, _ := startTree(t, withChild("oneshot", func(ctx context.Context) error {
		leaked <- ctx
		Signal(ctx, SignalDone)
		return nil
	}))
	waitState(t, s, "root.oneshot", "done", func(st NodeState) bool { return st.State == StateDone })
	err := Run(<-leaked, "late", blockUntilCancelled)
	if err == nil || !strings.Contains(err.Error(), "has returned") {
		t.Errorf("Run from a returned runnable's context = %v, want an error saying it has returned", err)
	}
}
