package supervisor

import "time"

// Backoff is the restart delay policy: exponential from Initial, capped at
// Max, and back to Initial once a runnable has been healthy for ResetAfter.
// It has no jitter: restarts of one node never synchronise across a cluster
// in a way that hurts, and a deterministic policy is easier to test.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	ResetAfter time.Duration
}

// DefaultBackoff is the policy of New without WithBackoff.
func DefaultBackoff() Backoff {
	return Backoff{
		Initial:    100 * time.Millisecond,
		Max:        10 * time.Second,
		Multiplier: 2,
		ResetAfter: 30 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultBackoff and repairs values that
// would make no sense (a shrinking multiplier, a cap below the start).
func (b Backoff) withDefaults() Backoff {
	d := DefaultBackoff()
	if b.Initial <= 0 {
		b.Initial = d.Initial
	}
	if b.Max <= 0 {
		b.Max = d.Max
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Multiplier == 0 {
		b.Multiplier = d.Multiplier
	}
	if b.Multiplier < 1 {
		b.Multiplier = 1
	}
	if b.ResetAfter <= 0 {
		b.ResetAfter = d.ResetAfter
	}
	return b
}

// Next returns the delay before a restart, given the delay before the
// previous one (0 if there was none) and how long the failed runnable had
// been healthy (0 if it never signalled healthy).
func (b Backoff) Next(previous, healthyFor time.Duration) time.Duration {
	if previous <= 0 || healthyFor >= b.ResetAfter {
		return b.Initial
	}
	next := time.Duration(float64(previous) * b.Multiplier)
	if next > b.Max || next < previous {
		return b.Max
	}
	return next
}
