package grow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Progress prints timestamped steps, and keeps printing while a step waits, so that nobody
// stares at a silent terminal.
type Progress struct {
	out   io.Writer
	start time.Time
	// waitTimeout bounds each wait.
	waitTimeout time.Duration
}

// sayEvery is how often a wait says that it still waits.
const sayEvery = 5 * time.Second

// NewProgress prints to out (nil: nowhere); each wait gives up after waitTimeout.
func NewProgress(out io.Writer, waitTimeout time.Duration) *Progress {
	if out == nil {
		out = io.Discard
	}
	return &Progress{out: out, start: time.Now(), waitTimeout: waitTimeout}
}

// Step prints one step, with the time since the launch began.
func (p *Progress) Step(format string, args ...any) {
	fmt.Fprintf(p.out, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// permanentError wraps an error that waiting will not cure.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as one that WaitFor must not wait out.
func Permanent(err error) error { return permanentError{err} }

// WaitFor calls try until it succeeds or fails permanently, saying every few seconds what it
// waits for, for how long, and the last error, until p's wait timeout.
func WaitFor[T any](ctx context.Context, p *Progress, what string, try func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	ctx, cancel := context.WithTimeout(ctx, p.waitTimeout)
	defer cancel()
	p.Step("waiting for %s", what)
	start, lastSaid := time.Now(), time.Now()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		v, err := try(attempt)
		cancelAttempt()
		if err == nil {
			return v, nil
		}
		var stop permanentError
		if errors.As(err, &stop) {
			return zero, stop.err
		}
		if time.Since(lastSaid) >= sayEvery {
			p.Step("still waiting for %s (%ds): %v", what, int(time.Since(start).Seconds()), err)
			lastSaid = time.Now()
		}
		select {
		case <-ctx.Done():
			return zero, fmt.Errorf("gave up waiting for %s after %s: %w", what, time.Since(start).Round(time.Second), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
