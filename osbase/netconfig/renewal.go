package netconfig

import "time"

// renewalAction is what the DHCP client does about a lease it holds.
type renewalAction int

const (
	// actWait: nothing yet; wait until the step's time.
	actWait renewalAction = iota
	// actRenew: ask the server that granted the lease to extend it (RFC 2131 RENEWING).
	actRenew
	// actRebind: the granting server is presumed gone (past T2): ask any server.
	actRebind
	// actGiveUp: the lease has ended; the address must go.
	actGiveUp
)

// renewalStep is the next thing to do, and when.
type renewalStep struct {
	action renewalAction
	// at is when to do it; for actWait, when to ask again.
	at time.Time
}

// nextRenewalStep decides, at now, about a finite lease granted at granted. attempted says an
// attempt to extend it has already failed since it was granted: then the next one comes after
// a pause of at most renewRetryInterval, and half of what is left of the lease, so that a
// short lease still gets several tries before it ends.
func nextRenewalStep(now, granted time.Time, l *lease, attempted bool) renewalStep {
	renewAt := granted.Add(l.renewAfter)
	rebindAt := granted.Add(l.rebindTime)
	expiry := granted.Add(l.duration)
	switch {
	case !now.Before(expiry):
		return renewalStep{action: actGiveUp, at: now}
	case !attempted && now.Before(renewAt):
		return renewalStep{action: actWait, at: renewAt}
	case now.Before(rebindAt):
		return renewalStep{action: actRenew, at: now}
	default:
		return renewalStep{action: actRebind, at: now}
	}
}

// retryAt is when to try again at now after a failed attempt on a lease that ends at expiry.
func retryAt(now, expiry time.Time) time.Time {
	return now.Add(min(renewRetryInterval, expiry.Sub(now)/2))
}
