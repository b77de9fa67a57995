package roleserve

import (
	"fmt"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
)

// A trial (ConfigureNodeRequest.try_duration) is a configuration the node follows until it
// expires, unless the operator confirms it first: the curator then makes it the stored
// configuration, and the node keeps following it. An unconfirmed trial is reverted by the node
// itself when it expires, whether or not it still reaches the cluster: that is what keeps a
// wrong address or gateway from stranding it. The trial's expiry is the curator's clock; the
// node's is kept in step with the cluster's (node/timesync).

// trialKey names one trial: its version and expiry (a version is reused by the next trial
// after one expired).
type trialKey struct {
	version uint64
	expires time.Time
}

func keyOf(t *apb.TrialNodeConfiguration) trialKey {
	return trialKey{version: t.GetVersion(), expires: t.GetExpires().AsTime()}
}

// trialDecision is what the node follows of its stored configuration at now.
type trialDecision struct {
	// configuration and version are what to follow; trial is set when that is a trial.
	configuration *apb.NodeConfiguration
	version       uint64
	trial         *apb.TrialNodeConfiguration
	// revert is set when the trial the node followed until now ran out: the node goes back to
	// the stored configuration and remembers that it reverted this one.
	revert *trialKey
}

// decideTrial decides what the node follows: the stored configuration, or its trial while it
// runs. following is the trial the node followed so far (nil if none), reverted those it has
// reverted already: a reverted trial is never followed again, even if the record still holds
// it (the curator drops it only on the next change).
func decideTrial(stored *apb.StoredNodeConfiguration, following *trialKey, reverted map[trialKey]bool, now time.Time) trialDecision {
	d := trialDecision{configuration: stored.GetConfiguration(), version: stored.GetVersion()}
	t := stored.GetTrial()
	if t != nil && !reverted[keyOf(t)] && now.Before(t.GetExpires().AsTime()) {
		d.configuration, d.version, d.trial = t.GetConfiguration(), t.GetVersion(), t
		return d
	}
	// Not following a trial now. If one was followed and is not what the record now says is
	// confirmed, it was not confirmed in time.
	if following != nil && !(t == nil && stored.GetVersion() == following.version) {
		k := *following
		d.revert = &k
	}
	return d
}

// revertNote is what the node reports of a trial it reverted.
func revertNote(k trialKey, at time.Time) string {
	return fmt.Sprintf("trial version %d reverted at %s: not confirmed by its expiry (%s)",
		k.version, at.UTC().Format(time.RFC3339), k.expires.UTC().Format(time.RFC3339))
}
