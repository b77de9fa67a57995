package supervisor

import (
	"context"
	"testing"
	"time"

	"metropolis.dev/metropolis/osbase/logtree"
)

// TestHarness runs r as the root of a supervisor for a test of some other
// package's runnable. Restarts are fast (a few milliseconds of backoff) and
// panics crash the test with their own stack trace. Every log entry is
// copied into the test's output. When the test ends, the tree is cancelled
// and the test waits for it to exit; the returned CancelFunc does the same
// earlier.
func TestHarness(t testing.TB, r Runnable) (context.CancelFunc, *logtree.LogTree) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lt := logtree.New()
	reader, err := lt.Read("", logtree.WithChildren(), logtree.WithStream())
	if err != nil {
		t.Fatalf("read log tree: %v", err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		for e := range reader.Stream {
			t.Log(e.String())
		}
	}()

	s := New(ctx, r, WithExistingLogtree(lt), WithPropagatePanic(),
		WithBackoff(Backoff{Initial: time.Millisecond, Max: 50 * time.Millisecond}))
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.Done():
		case <-time.After(30 * time.Second):
			t.Errorf("supervisor tree did not stop within 30s of cancellation")
		}
		reader.Close()
		<-copied
	})
	return cancel, lt
}
