package supervisor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/osbase/logtree"
)

// fastBackoff keeps restart tests quick; ResetAfter is long so that no test
// sees a reset it did not ask for.
var fastBackoff = Backoff{Initial: time.Millisecond, Max: 20 * time.Millisecond, Multiplier: 2, ResetAfter: time.Hour}

// startTree runs root under a fresh supervisor and stops it (waiting for the
// whole tree) when the test ends.
func startTree(t *testing.T, root Runnable, opts ...Option) (*Supervisor, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := New(ctx, root, append([]Option{WithBackoff(fastBackoff)}, opts...)...)
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.Done():
		case <-time.After(30 * time.Second):
			t.Errorf("tree did not stop within 30s; states: %v", s.States())
		}
	})
	return s, cancel
}

// patience bounds every wait for a state: generous, because tests assert on
// states reached, never on how long they took.
const patience = 30 * time.Second

// waitState waits until dn exists and satisfies cond, and returns its state.
func waitState(t *testing.T, s *Supervisor, dn logtree.DN, what string, cond func(NodeState) bool) NodeState {
	t.Helper()
	var st NodeState
	eventually.Pass(t, patience, string(dn)+" "+what, func(context.Context) error {
		var ok bool
		if st, ok = s.StateOf(dn); !ok {
			return errors.New("no such runnable")
		}
		if !cond(st) {
			return fmt.Errorf("state %+v", st)
		}
		return nil
	})
	return st
}

// logged is a check that passes once an entry of dn contains all of parts (see
// logContains).
func logged(t *testing.T, lt *logtree.LogTree, dn logtree.DN, parts ...string) func(context.Context) error {
	return func(context.Context) error {
		if !logContains(t, lt, dn, parts...) {
			return fmt.Errorf("no entry of %s contains all of %q", dn, parts)
		}
		return nil
	}
}

// logContains reports whether any entry of dn (as formatted) contains all
// of the given strings.
func logContains(t *testing.T, lt *logtree.LogTree, dn logtree.DN, parts ...string) bool {
	t.Helper()
	r, err := lt.Read(dn, logtree.WithBacklog(logtree.BacklogAll))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, e := range r.Backlog {
		s := e.String()
		all := true
		for _, p := range parts {
			all = all && strings.Contains(s, p)
		}
		if all {
			return true
		}
	}
	return false
}

// blockUntilCancelled is a well-behaved runnable that does nothing.
func blockUntilCancelled(ctx context.Context) error {
	Signal(ctx, SignalHealthy)
	<-ctx.Done()
	return ctx.Err()
}

// withChild returns a root runnable that starts one child and idles.
func withChild(name string, child Runnable) Runnable {
	return func(ctx context.Context) error {
		if err := Run(ctx, name, child); err != nil {
			return err
		}
		return blockUntilCancelled(ctx)
	}
}
