package e2e

import (
	"context"
	"testing"
	"time"
)

// attemptTimeout bounds one check of a wait (see attempt) and the etcd client's dial.
const attemptTimeout = 10 * time.Second

// attempt bounds each call of check by attemptTimeout: the curator client waits for a leader
// for as long as its context allows, and a wait should try again rather than spend all its
// time on one call to a node that has gone.
func attempt(check func(ctx context.Context) error) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
		defer cancel()
		return check(ctx)
	}
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
