package rollout

import (
	"fmt"
	"strings"

	apb "metropolis.dev/metropolis/api/v1"
)

// Changes says in words what changed from one revision of a plan to the next: the rollout's
// state, and every node's phase or message. For the leader's log and for an operator
// following the rollout.
func Changes(old, next *apb.Rollout) []string {
	var out []string
	if old.GetState() != next.GetState() {
		s := fmt.Sprintf("rollout %s %s", next.GetId(), StateWords(next.GetState()))
		if next.GetReason() != "" {
			s += ": " + next.GetReason()
		}
		out = append(out, s)
	}
	before := map[string]*apb.RolloutNode{}
	for _, rn := range old.GetNodes() {
		before[rn.GetNodeId()] = rn
	}
	for _, rn := range next.GetNodes() {
		o := before[rn.GetNodeId()]
		if o.GetPhase() == rn.GetPhase() && o.GetMessage() == rn.GetMessage() {
			continue
		}
		s := fmt.Sprintf("node %s %s", rn.GetNodeId(), PhaseWords(rn.GetPhase()))
		if rn.GetMessage() != "" {
			s += ": " + rn.GetMessage()
		}
		out = append(out, s)
	}
	return out
}

// PhaseWords names a node's phase as a person says it.
func PhaseWords(p apb.RolloutPhase) string {
	if p == apb.RolloutPhase_ROLLOUT_PHASE_UNSPECIFIED {
		return "unknown"
	}
	return strings.ToLower(strings.TrimPrefix(p.String(), "ROLLOUT_PHASE_"))
}

// GroupWords names a group as a person says it.
func GroupWords(g apb.RolloutGroup) string {
	switch g {
	case apb.RolloutGroup_ROLLOUT_GROUP_CONSENSUS:
		return "consensus"
	case apb.RolloutGroup_ROLLOUT_GROUP_CONTROLLER:
		return "controller"
	case apb.RolloutGroup_ROLLOUT_GROUP_WORKER:
		return "worker"
	}
	return "unknown"
}
