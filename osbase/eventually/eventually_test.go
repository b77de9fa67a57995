package eventually

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

var errNotYet = errors.New("not yet")

func TestPoll(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		// passOn is the attempt whose check returns nil; 0 for none.
		passOn int
		// wantAttempts is how many attempts there are at least (with a timeout, the exact
		// number depends on the machine's speed).
		wantAttempts int
		wantErr      bool
	}{
		{name: "passes at once", timeout: time.Minute, passOn: 1, wantAttempts: 1},
		{name: "passes after some attempts", timeout: time.Minute, passOn: 4, wantAttempts: 4},
		{name: "times out with the last error", timeout: 200 * time.Millisecond, wantAttempts: 3, wantErr: true},
		{name: "zero timeout tries once", timeout: 0, wantAttempts: 1, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			var first, end time.Time // the first attempt and the wait's end, from the context
			attempts := 0
			took, err := Poll(tc.timeout, func(ctx context.Context) error {
				attempts++
				// Every attempt's context ends with the wait, and all but an attempt of a
				// wait without time have some of it left.
				deadline, ok := ctx.Deadline()
				if attempts == 1 {
					first, end = time.Now(), deadline
				}
				if !ok || !deadline.Equal(end) || deadline.After(first.Add(tc.timeout)) {
					t.Errorf("attempt %d: context deadline %v after the first attempt (set: %v), want the wait's, at most %v", attempts, deadline.Sub(first), ok, tc.timeout)
				}
				if tc.timeout > 0 && ctx.Err() != nil {
					t.Errorf("attempt %d: context already ended: %v", attempts, ctx.Err())
				}
				if attempts == tc.passOn {
					return nil
				}
				return fmt.Errorf("attempt %d: %w", attempts, errNotYet)
			})
			elapsed := time.Since(start)
			if took > elapsed {
				t.Errorf("took %v, more than the %v Poll ran", took, elapsed)
			}
			if tc.passOn != 0 && attempts != tc.passOn || attempts < tc.wantAttempts {
				t.Errorf("%d attempts, want %d", attempts, max(tc.passOn, tc.wantAttempts))
			}
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("Poll: %v", err)
				}
				return
			}
			// The error is the last attempt's, so that a failing test shows the latest state.
			want := fmt.Sprintf("attempt %d: not yet", attempts)
			if !errors.Is(err, errNotYet) || !strings.HasPrefix(err.Error(), "after ") || !strings.HasSuffix(err.Error(), want) {
				t.Errorf("Poll error %q, want one wrapping %q, prefixed with how long it took", err, want)
			}
			// The last attempt starts before the deadline, at the latest halfway through the
			// time left by the one before.
			if took < tc.timeout/2 {
				t.Errorf("gave up after %v, long before the timeout of %v", took, tc.timeout)
			}
		})
	}
}

// recordingTB is a testing.TB that records what Pass reports instead of failing the test.
type recordingTB struct {
	testing.TB
	fatal string
	logs  []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

// Fatalf ends the goroutine as testing.T's does, so that Pass does not go on.
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// pass runs Pass on its own goroutine, which a fatal failure ends.
func pass(tb *recordingTB, timeout time.Duration, what string, check func(ctx context.Context) error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		Pass(tb, timeout, what, check)
	}()
	<-done
}

func TestPass(t *testing.T) {
	t.Run("logs how long the wait took", func(t *testing.T) {
		tb := &recordingTB{}
		attempts := 0
		pass(tb, time.Minute, "the third attempt", func(context.Context) error {
			if attempts++; attempts < 3 {
				return errNotYet
			}
			return nil
		})
		if tb.fatal != "" {
			t.Fatalf("failed: %s", tb.fatal)
		}
		if len(tb.logs) != 1 || !strings.HasPrefix(tb.logs[0], "waited ") || !strings.HasSuffix(tb.logs[0], " for the third attempt") {
			t.Errorf("logs %q, want one of how long it waited for the third attempt", tb.logs)
		}
	})
	t.Run("logs the last error's first line while the wait goes on", func(t *testing.T) {
		defer func(d time.Duration) { progressEvery = d }(progressEvery)
		progressEvery = 0
		tb := &recordingTB{}
		attempts := 0
		pass(tb, time.Minute, "the second attempt", func(context.Context) error {
			if attempts++; attempts < 2 {
				return errors.New("not yet; the console's end:\nline 1\nline 2")
			}
			return nil
		})
		if len(tb.logs) != 2 || tb.logs[0] != "still waiting for the second attempt after 0s: not yet; the console's end: …" {
			t.Errorf("logs %q, want the first line of the error, then how long the wait took", tb.logs)
		}
	})
	t.Run("fails naming the condition, the timeout and the last error", func(t *testing.T) {
		tb := &recordingTB{}
		pass(tb, 50*time.Millisecond, "the impossible", func(context.Context) error { return errNotYet })
		for _, want := range []string{"the impossible", "50ms", "not yet"} {
			if !strings.Contains(tb.fatal, want) {
				t.Errorf("failure %q does not contain %q", tb.fatal, want)
			}
		}
	})
}
