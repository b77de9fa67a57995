package supervisor

import (
	"context"
	"time"

	"k8s.io/utils/clock"
)

// SleepUntil returns nil at t on clk, or ctx's error if ctx ends first: how a runnable waits for
// a deadline of its own (a renewal, a lease) and still stops when told to. The clock is
// injected so that tests step a fake one instead of sleeping.
func SleepUntil(ctx context.Context, clk clock.Clock, t time.Time) error {
	d := t.Sub(clk.Now())
	if d <= 0 {
		return ctx.Err()
	}
	timer := clk.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C():
		return nil
	}
}
