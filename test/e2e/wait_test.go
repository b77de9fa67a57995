package e2e

import (
	"context"
	"testing"
	"time"
)

const (
	// pollInterval is how often a wait checks again.
	pollInterval = 250 * time.Millisecond
	// attemptTimeout bounds one check of a wait, so that a call stuck on a dead connection does
	// not use up the whole wait.
	attemptTimeout = 10 * time.Second
)

// eventually calls check until it returns nil and returns how long that took; if timeout
// passes first, it fails the test naming what it waited for and the last error. The elapsed
// time is an upper bound of when the condition became true (it may have been true a poll
// earlier), never a lower one.
func eventually(t *testing.T, timeout time.Duration, what string, check func(ctx context.Context) error) time.Duration {
	t.Helper()
	d, err := poll(timeout, check)
	if err != nil {
		t.Fatalf("gave up after %v waiting for %s: %v", timeout, what, err)
	}
	return d
}

// poll calls check until it returns nil or timeout passes, returning the time taken or the
// last error.
func poll(timeout time.Duration, check func(ctx context.Context) error) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		ctx, cancel := context.WithDeadline(context.Background(), minTime(deadline, time.Now().Add(attemptTimeout)))
		err := check(ctx)
		cancel()
		if err == nil {
			return time.Since(start), nil
		}
		if time.Now().Add(pollInterval).After(deadline) {
			return time.Since(start), err
		}
		time.Sleep(pollInterval)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// callTimeout bounds a few direct API calls made one after the other.
const callTimeout = 30 * time.Second

// callContext is a context for the next few direct API calls of a test, ending after
// callTimeout: every call must be bounded, because the curator connection waits for a leader
// for as long as its context allows. Take a fresh one for each step of a test.
func callContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}
