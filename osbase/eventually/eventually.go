package eventually

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	// firstInterval is the pause after the first failed attempt: short, because most
	// conditions in unit tests hold within a few milliseconds.
	firstInterval = time.Millisecond
	// maxInterval caps the pause between attempts, which doubles from firstInterval, so that a
	// long wait (a virtual machine booting) does not spin but still notices the condition soon.
	maxInterval = time.Second
)

// progressEvery is how often Pass logs the last error of a wait that goes on (a variable for
// the package's tests).
var progressEvery = 15 * time.Second

// Pass calls check until it returns nil and returns how long that took. If timeout passes
// first, it fails the test naming what it waited for, the timeout and check's last error.
// check runs on the calling goroutine, so it may itself fail the test. The time returned is
// an upper bound of when the condition came to hold (it may have held an attempt earlier).
// The last attempt starts somewhat before the deadline (at most half a second), so that it
// has time to run.
func Pass(t testing.TB, timeout time.Duration, what string, check func(ctx context.Context) error) time.Duration {
	t.Helper()
	took, err := poll(t, what, timeout, check)
	if err != nil {
		t.Fatalf("gave up waiting for %s (timeout %v): %v", what, timeout, err)
	}
	t.Logf("waited %v for %s", took.Round(time.Millisecond), what)
	return took
}

// Poll is Pass for a caller that decides itself what a timeout means: it returns how long the
// wait took, or check's last error prefixed with how long it tried.
func Poll(timeout time.Duration, check func(ctx context.Context) error) (time.Duration, error) {
	return poll(nil, "", timeout, check)
}

// poll is Poll that, given a t, logs check's last error every progressEvery.
func poll(t testing.TB, what string, timeout time.Duration, check func(ctx context.Context) error) (time.Duration, error) {
	if t != nil {
		t.Helper()
	}
	start := time.Now()
	deadline := start.Add(timeout)
	lastLog := start
	interval := firstInterval
	final := false
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		err := check(ctx)
		cancel()
		took := time.Since(start)
		if err == nil {
			return took, nil
		}
		left := time.Until(deadline)
		if final || left <= 0 {
			return took, fmt.Errorf("after %v: %w", took.Round(time.Millisecond), err)
		}
		if t != nil && time.Since(lastLog) >= progressEvery {
			// One line each: a check may describe what it saw at length (a console's end),
			// which the failure shows once.
			msg, _, cut := strings.Cut(err.Error(), "\n")
			if cut {
				msg += " …"
			}
			t.Logf("still waiting for %s after %v: %s", what, took.Round(time.Second), msg)
			lastLog = time.Now()
		}
		// The last attempt starts halfway through what is left rather than at the deadline:
		// its context would have ended already, and its error would only say so instead of
		// what the check saw.
		if interval >= left {
			interval, final = left/2, true
		}
		time.Sleep(interval)
		interval = min(2*interval, maxInterval)
	}
}
