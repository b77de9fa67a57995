package watchdog

import (
	"context"
	"fmt"
	"time"
)

// PingInterval returns how often to ping a watchdog with the given timeout: a quarter of it,
// so that three pings in a row can be late (a loaded or briefly stalled system) before the
// machine resets, but at least a second, since the timeout itself has one-second resolution.
func PingInterval(timeout time.Duration) time.Duration {
	return max(timeout/4, time.Second)
}

// Feed pings w every interval until ctx ends, and returns ctx.Err(), or the first ping error.
// It pings once right away, since whoever armed the watchdog may have fed it a while ago.
//
// tick returns a channel that fires once after the given duration; production code passes
// time.After, tests a fake so that they do not sleep.
func Feed(ctx context.Context, w *Watchdog, interval time.Duration, tick func(time.Duration) <-chan time.Time) error {
	if interval <= 0 {
		return fmt.Errorf("watchdog: feed interval %v is not positive", interval)
	}
	for {
		if err := w.Ping(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick(interval):
		}
	}
}
