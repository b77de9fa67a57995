package supervisor

import (
	"context"
	"testing"
	"time"

	"metropolis.dev/metropolis/osbase/eventually"
)

func TestTestHarnessStopsTreeWhenTestEnds(t *testing.T) {
	stopped := make(chan struct{})
	t.Run("user of the harness", func(t *testing.T) {
		_, lt := TestHarness(t, func(ctx context.Context) error {
			Logger(ctx).Info("harnessed runnable up")
			Signal(ctx, SignalHealthy)
			<-ctx.Done()
			close(stopped)
			return ctx.Err()
		})
		eventually.Pass(t, patience, "the runnable's log entry", logged(t, lt, "root", "harnessed runnable up"))
	})
	select {
	case <-stopped:
	case <-time.After(patience):
		t.Fatal("runnable still running after the test using the harness ended")
	}
}
