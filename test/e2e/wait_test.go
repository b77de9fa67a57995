package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
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

// getOK GETs url with client and returns the body of a 200 answer (the caller closes it); any
// other answer is an error with its status and the start of its body.
func getOK(ctx context.Context, client *http.Client, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return nil, fmt.Errorf("%s: %s", res.Status, body)
	}
	return res.Body, nil
}
