package rollout

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
)

// ErrStale is returned when an operator's command names a revision of the plan that is not
// the current one: someone or something changed the plan since the operator looked at it.
var ErrStale = errors.New("the rollout changed since the revision given; look at it again and repeat the command if it still applies")

// Command is what an operator may do to a rollout.
type Command int

const (
	Pause Command = iota + 1
	Resume
	Abort
)

func (c Command) String() string {
	switch c {
	case Pause:
		return "pause"
	case Resume:
		return "resume"
	case Abort:
		return "abort"
	}
	return fmt.Sprintf("Command(%d)", int(c))
}

// Apply carries out an operator's command on r, which must be at revision (0 skips the
// check: the operator did not look first). It returns the new plan with its revision bumped.
// A command that would change nothing (pausing a paused rollout) is no error and returns r
// itself, so repeating a command is safe.
//
// Resuming a halted rollout retries its failed nodes: they become pending again, and start
// a new attempt when their turn comes.
func Apply(r *apb.Rollout, c Command, revision int64, who string, now time.Time) (*apb.Rollout, error) {
	if revision != 0 && revision != r.Revision {
		return nil, fmt.Errorf("%w (given %d, now %d)", ErrStale, revision, r.Revision)
	}
	next := proto.Clone(r).(*apb.Rollout)
	switch c {
	case Pause:
		switch r.State {
		case apb.RolloutState_ROLLOUT_STATE_PAUSED:
			return r, nil
		case apb.RolloutState_ROLLOUT_STATE_RUNNING:
			setState(next, apb.RolloutState_ROLLOUT_STATE_PAUSED, "paused by "+who, now)
		default:
			return nil, notFor(c, r)
		}
	case Resume:
		switch r.State {
		case apb.RolloutState_ROLLOUT_STATE_RUNNING:
			return r, nil
		case apb.RolloutState_ROLLOUT_STATE_PAUSED, apb.RolloutState_ROLLOUT_STATE_HALTED:
			setState(next, apb.RolloutState_ROLLOUT_STATE_RUNNING, "", now)
			for _, rn := range next.Nodes {
				if rn.Phase == apb.RolloutPhase_ROLLOUT_PHASE_FAILED {
					setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_PENDING, "retried after: "+rn.Message, now)
				} else if rn.Phase == apb.RolloutPhase_ROLLOUT_PHASE_PENDING {
					// A pending node's wait starts again.
					setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_PENDING, "", now)
				}
			}
		default:
			return nil, notFor(c, r)
		}
	case Abort:
		switch r.State {
		case apb.RolloutState_ROLLOUT_STATE_ABORTED:
			return r, nil
		case apb.RolloutState_ROLLOUT_STATE_DONE:
			return nil, notFor(c, r)
		default:
			setState(next, apb.RolloutState_ROLLOUT_STATE_ABORTED, "aborted by "+who, now)
		}
	default:
		return nil, fmt.Errorf("unknown command %v", c)
	}
	next.Revision = r.Revision + 1
	return next, nil
}

func notFor(c Command, r *apb.Rollout) error {
	return fmt.Errorf("cannot %v rollout %s: it is %s", c, r.Id, StateWords(r.State))
}

// StateWords names a rollout state as a person says it.
func StateWords(s apb.RolloutState) string {
	switch s {
	case apb.RolloutState_ROLLOUT_STATE_RUNNING:
		return "running"
	case apb.RolloutState_ROLLOUT_STATE_PAUSED:
		return "paused"
	case apb.RolloutState_ROLLOUT_STATE_HALTED:
		return "halted"
	case apb.RolloutState_ROLLOUT_STATE_ABORTED:
		return "aborted"
	case apb.RolloutState_ROLLOUT_STATE_DONE:
		return "done"
	}
	return "in an unknown state"
}

// Final reports whether a rollout's state will never change again, so another may start.
func Final(s apb.RolloutState) bool {
	return s == apb.RolloutState_ROLLOUT_STATE_ABORTED || s == apb.RolloutState_ROLLOUT_STATE_DONE
}

// Settled reports whether nothing about r will change any more: it is final and no node is
// in the middle of its update (an aborted rollout's installing nodes still finish theirs).
func Settled(r *apb.Rollout) bool {
	if !Final(r.GetState()) {
		return false
	}
	for _, rn := range r.GetNodes() {
		if inProgress(rn.GetPhase()) {
			return false
		}
	}
	return true
}
