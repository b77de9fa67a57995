package renewal

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"metropolis.dev/metropolis/osbase/supervisor"
)

// cert is a fake certificate user: Renew issues a successor valid for lifetime from the fake
// clock's now, or fails with the next of failures.
type cert struct {
	clk      *clocktesting.FakeClock
	lifetime time.Duration
	// outdated are the Outdated reasons of the next successors, in order; then none.
	outdated []string

	mu       sync.Mutex
	current  Validity
	renewals []time.Time
	failures []error
}

func newCert(clk *clocktesting.FakeClock, lifetime time.Duration) *cert {
	return &cert{clk: clk, lifetime: lifetime, current: Validity{NotBefore: clk.Now(), NotAfter: clk.Now().Add(lifetime)}}
}

func (c *cert) Current() (Validity, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current, nil
}

func (c *cert) Renew(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.renewals = append(c.renewals, c.clk.Now())
	if len(c.failures) > 0 {
		err := c.failures[0]
		c.failures = c.failures[1:]
		if err != nil {
			return err
		}
	}
	c.current = Validity{NotBefore: c.clk.Now(), NotAfter: c.clk.Now().Add(c.lifetime)}
	if len(c.outdated) > 0 {
		c.current.Outdated, c.outdated = c.outdated[0], c.outdated[1:]
	}
	return nil
}

func (c *cert) renewedAt() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.renewals...)
}

func (c *cert) replace(v Validity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current = v
}

// run starts l under a test supervisor and returns a channel with Run's result.
func run(t *testing.T, l *Loop) <-chan error {
	t.Helper()
	result := make(chan error, 1)
	supervisor.TestHarness(t, func(ctx context.Context) error {
		err := l.Run(ctx)
		result <- err
		supervisor.Signal(ctx, supervisor.SignalDone)
		return nil
	})
	return result
}

// advance waits until the loop sleeps on the fake clock (so everything it does before its next
// wait has happened), then moves the clock by d. The wait is bounded: a loop that never sleeps
// again fails the test.
func advance(t *testing.T, clk *clocktesting.FakeClock, d time.Duration) {
	t.Helper()
	waitForSleep(t, clk)
	clk.Step(d)
}

func waitForSleep(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("the loop did not go to sleep within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestRenewsAtTwoThirds: a certificate of 3 hours is renewed at 2 hours, its successor 2 hours
// after that, and never before it is due.
func TestRenewsAtTwoThirds(t *testing.T) {
	clk := clocktesting.NewFakeClock(start)
	c := newCert(clk, 3*time.Hour)
	run(t, &Loop{What: "test certificate", Current: c.Current, Renew: c.Renew, Clock: clk})

	advance(t, clk, 2*time.Hour-time.Second)
	advance(t, clk, 0) // woke early? (it did not: it sleeps again before the renewal)
	if got := c.renewedAt(); len(got) != 0 {
		t.Fatalf("renewed at %v, before the certificate was due", got)
	}
	advance(t, clk, time.Second)
	advance(t, clk, 2*time.Hour)
	waitForSleep(t, clk)
	want := []time.Time{start.Add(2 * time.Hour), start.Add(4 * time.Hour)}
	if got := c.renewedAt(); !equalTimes(got, want) {
		t.Fatalf("renewed at %v, want %v", got, want)
	}
}

// TestFailedRenewalIsRetried: a failed renewal keeps the certificate and is tried again after
// Retry, not at once and not only at the next due time.
func TestFailedRenewalIsRetried(t *testing.T) {
	clk := clocktesting.NewFakeClock(start)
	c := newCert(clk, 3*time.Hour)
	c.failures = []error{errors.New("curator unavailable"), errors.New("curator unavailable")}
	run(t, &Loop{What: "test certificate", Current: c.Current, Renew: c.Renew, Clock: clk, Retry: 5 * time.Minute})

	advance(t, clk, 2*time.Hour)
	advance(t, clk, 5*time.Minute)
	advance(t, clk, 5*time.Minute)
	waitForSleep(t, clk)
	want := []time.Time{start.Add(2 * time.Hour), start.Add(2*time.Hour + 5*time.Minute), start.Add(2*time.Hour + 10*time.Minute)}
	if got := c.renewedAt(); !equalTimes(got, want) {
		t.Fatalf("renewal attempts at %v, want %v", got, want)
	}
	if v, _ := c.Current(); !v.NotBefore.Equal(start.Add(2*time.Hour + 10*time.Minute)) {
		t.Fatalf("certificate in use valid from %s, want the one from the third attempt", v.NotBefore)
	}
}

// TestOutdatedIsRenewedAtOnce: a certificate that does not name the node's address is renewed
// at once; successors still outdated (the curator did not know the address yet) after
// OutdatedRetry, then twice that; one that is not, when it is due.
func TestOutdatedIsRenewedAtOnce(t *testing.T) {
	clk := clocktesting.NewFakeClock(start)
	c := newCert(clk, 3*time.Hour)
	c.replace(Validity{NotBefore: start, NotAfter: start.Add(3 * time.Hour), Outdated: "does not name 10.0.0.3"})
	c.outdated = []string{"does not name 10.0.0.3", "does not name 10.0.0.3"}
	run(t, &Loop{What: "test certificate", Current: c.Current, Renew: c.Renew, Clock: clk, Retry: 5 * time.Minute})

	advance(t, clk, 0)
	advance(t, clk, OutdatedRetry)
	advance(t, clk, 2*OutdatedRetry)
	advance(t, clk, 2*time.Hour)
	waitForSleep(t, clk)
	third := start.Add(3 * OutdatedRetry)
	want := []time.Time{start, start.Add(OutdatedRetry), third, third.Add(2 * time.Hour)}
	if got := c.renewedAt(); !equalTimes(got, want) {
		t.Fatalf("renewed at %v, want %v", got, want)
	}
}

// TestReplacedMeanwhileIsNotRenewed: a certificate replaced while the loop slept (a join handed
// out a fresh one) is not renewed when the old one would have been due.
func TestReplacedMeanwhileIsNotRenewed(t *testing.T) {
	clk := clocktesting.NewFakeClock(start)
	c := newCert(clk, 3*time.Hour)
	run(t, &Loop{What: "test certificate", Current: c.Current, Renew: c.Renew, Clock: clk})

	waitForSleep(t, clk)
	c.replace(Validity{NotBefore: start.Add(time.Hour), NotAfter: start.Add(4 * time.Hour)}) // due at 3 h
	advance(t, clk, 2*time.Hour)
	advance(t, clk, time.Hour)
	waitForSleep(t, clk)
	if got, want := c.renewedAt(), []time.Time{start.Add(3 * time.Hour)}; !equalTimes(got, want) {
		t.Fatalf("renewed at %v, want %v (only the replacement, when it was due)", got, want)
	}
}

// TestRestartEndsTheLoop: a renewal that needs its user restarted ends Run with its error.
func TestRestartEndsTheLoop(t *testing.T) {
	clk := clocktesting.NewFakeClock(start)
	c := newCert(clk, 3*time.Hour)
	c.failures = []error{nil}
	l := &Loop{What: "test certificate", Current: c.Current, Clock: clk, Renew: func(ctx context.Context) error {
		if err := c.Renew(ctx); err != nil {
			return err
		}
		return Restart(errors.New("renewed: restarting the member with it"))
	}}
	result := run(t, l)
	advance(t, clk, 2*time.Hour)
	select {
	case err := <-result:
		if err == nil || !strings.Contains(err.Error(), "restarting the member") {
			t.Fatalf("Run = %v, want the restart error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end after a renewal asked for a restart")
	}
}

// TestCurrentFailing ends the loop with an error naming the certificate.
func TestCurrentFailing(t *testing.T) {
	clk := clocktesting.NewFakeClock(start)
	l := &Loop{What: "etcd certificate", Clock: clk,
		Current: func() (Validity, error) { return Validity{}, errors.New("no such file") },
		Renew:   func(context.Context) error { return nil }}
	select {
	case err := <-run(t, l):
		if err == nil || err.Error() != "etcd certificate: no such file" {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end")
	}
}

func equalTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
