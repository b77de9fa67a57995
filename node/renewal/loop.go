package renewal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/utils/clock"

	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// OutdatedRetry is the first wait before an outdated certificate's successor, outdated too, is
// renewed again.
const OutdatedRetry = 10 * time.Second

// DefaultRetry is how long a failed renewal waits for the next attempt when Loop.Retry is zero.
// A due certificate still has a third of its lifetime left: no hurry, but no reason to wait long.
const DefaultRetry = time.Minute

// Validity is when a certificate is valid, and whether it is outdated before that.
type Validity struct {
	NotBefore, NotAfter time.Time
	// Outdated, if not empty, says why the certificate should be replaced before it is due
	// (e.g. it does not name the node's address): it is renewed at once, and while its
	// successors are outdated too, again after OutdatedRetry, doubling up to Retry (what
	// made it outdated is usually fixed within seconds, e.g. the curator learning the address).
	Outdated string
}

func (v Validity) equal(o Validity) bool {
	return v.NotBefore.Equal(o.NotBefore) && v.NotAfter.Equal(o.NotAfter)
}

// Loop keeps one certificate (or a set issued together) valid while its user runs.
type Loop struct {
	// What names the certificate in the log, e.g. "node certificate".
	What string
	// Current returns the validity of the certificate in use now.
	Current func() (Validity, error)
	// Renew obtains a successor, checks it and puts it in use. A plain error is logged and
	// retried after Retry; an error made by Restart ends Run.
	Renew func(ctx context.Context) error
	// Clock is the time the loop waits by; nil: the real clock.
	Clock clock.WithTicker
	// Retry is the wait after a failed renewal; zero: DefaultRetry.
	Retry time.Duration
}

// restartError is a renewal that needs the certificate's user restarted.
type restartError struct{ err error }

func (e restartError) Error() string { return e.err.Error() }
func (e restartError) Unwrap() error { return e.err }

// Restart marks err, returned by Renew, as "renewed: restart the user to take it", which ends
// Run with err.
func Restart(err error) error { return restartError{err} }

// Run renews the certificate whenever it is due, until ctx ends (ctx's error) or Renew asks
// for a restart (that error). It logs what it waits for and each renewal to the runnable's
// logger, and signals healthy once it waits.
func (l *Loop) Run(ctx context.Context) error {
	logger := supervisor.Logger(ctx)
	clk := l.clock()
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	var retryAt time.Time         // zero: wait for the certificate to be due
	var outdatedTriedAt time.Time // the last renewal of an outdated certificate
	outdatedWait := min(OutdatedRetry, l.retry())
	for {
		v, err := l.Current()
		if err != nil {
			return fmt.Errorf("%s: %w", l.What, err)
		}
		due := pki.RenewAt(v.NotBefore, v.NotAfter)
		if v.Outdated != "" {
			early := clk.Now()
			if !outdatedTriedAt.IsZero() {
				early = outdatedTriedAt.Add(outdatedWait)
				outdatedWait = min(2*outdatedWait, l.retry())
			}
			if early.Before(due) {
				due = early
				logger.Infof("%s %s: renewing it at %s", l.What, v.Outdated, formatTime(due))
			}
		}
		wake := due
		if !retryAt.IsZero() && retryAt.After(wake) {
			wake = retryAt
		} else if retryAt.IsZero() {
			logger.Infof("%s valid until %s; renewing it at %s", l.What, formatTime(v.NotAfter), formatTime(due))
		}
		if err := supervisor.SleepUntil(ctx, clk, wake); err != nil {
			return err
		}
		if now, err := l.Current(); err == nil && !now.equal(v) {
			retryAt = time.Time{}
			continue // replaced meanwhile: wait for the new one to be due
		}
		err = l.Renew(ctx)
		if v.Outdated != "" {
			outdatedTriedAt = clk.Now()
		}
		var restart restartError
		switch {
		case err == nil:
			retryAt = time.Time{}
			if now, cerr := l.Current(); cerr == nil {
				logger.Infof("%s renewed, valid until %s", l.What, formatTime(now.NotAfter))
			}
		case errors.As(err, &restart):
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			retry := l.retry()
			retryAt = clk.Now().Add(retry)
			logger.Warningf("renew %s: %v; trying again in %v", l.What, err, retry)
		}
	}
}

func (l *Loop) clock() clock.WithTicker {
	if l.Clock == nil {
		return clock.RealClock{}
	}
	return l.Clock
}

func (l *Loop) retry() time.Duration {
	if l.Retry <= 0 {
		return DefaultRetry
	}
	return l.Retry
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
