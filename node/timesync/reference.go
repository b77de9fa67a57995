package timesync

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A node that becomes the cluster's time reference serves its own clock, which the others
// follow. If it just restarted, that clock is its hardware clock, which may be minutes off:
// served at once, it would take the whole cluster with it. So it first asks the other
// consensus members, which kept the cluster's time while it was away, and takes the time from
// the best synchronised one; only when none knows it (they all answer unsynchronised: the
// whole cluster starts) or none answers within referencePatience does it serve its clock as
// it is.

// referencePatience is how long a new reference waits for its peers' answers before it serves
// its own clock without them: peers that are down, or whose network is not up yet.
const referencePatience = 2 * time.Minute

// referenceStep is what a new reference does after asking its peers.
type referenceStep int

const (
	// keepAsking: serve no time yet, ask again at the next poll.
	keepAsking referenceStep = iota
	// adoptPeer: correct the clock by the best peer's answer, then serve it.
	adoptPeer
	// serveOwn: serve the clock as it is.
	serveOwn
)

// decideReferenceStart says what a new reference does, having asked peers peers of which
// answered answered (usably or not), usable of them usably, waited after it became the
// reference.
func decideReferenceStart(peers, answered int, usable bool, waited time.Duration) referenceStep {
	switch {
	case usable:
		return adoptPeer
	case peers == 0 || answered == peers || waited >= referencePatience:
		return serveOwn
	}
	return keepAsking
}

// becomeReference asks the peers for the cluster's time, for a node that is the reference but
// not yet serving (prev: its status before), and returns its new status: the reference, with
// the peer it took the time from, or still checking.
func (s *Service) becomeReference(ctx context.Context, prev *Status) *Status {
	now := s.cfg.Time.Now()
	since := prev.CheckingSince
	if !prev.Checking {
		since = now
	}
	peers := s.cfg.Peers()
	samples, answered, errs := s.ask(ctx, peers)
	best, usable := Best(samples)
	switch decideReferenceStart(len(peers), answered, usable, now.Sub(since)) {
	case adoptPeer:
		st, err := s.correct(best, false)
		if err != nil {
			return &Status{Checking: true, CheckingSince: since, Error: err.Error()}
		}
		st.Synced, st.Reference = false, true
		return st
	case serveOwn:
		return &Status{Reference: true}
	}
	return &Status{Checking: true, CheckingSince: since, Error: fmt.Sprintf(
		"the cluster's time reference, asking the other consensus members for the cluster's time before serving its own clock (%d of %d answered; it serves its own after %v): %v",
		answered, len(peers), referencePatience, errors.Join(errs...))}
}
