package supervisor

import (
	"context"
	"time"
)

// SleepUntil returns nil at t, or ctx's error if ctx ends first: how a runnable waits for a
// deadline of its own (a renewal, a lease) and still stops when told to.
func SleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
