package rollout

import apb "metropolis.dev/metropolis/api/v1"

// Want is what the curator leader must make true of one node for the rollout, as of the
// node's phase. Every field describes a state, not an action, so carrying it out twice (a
// new leader repeating its predecessor's last round) does no harm.
type Want struct {
	// Cordoned: the node's Kubernetes node must be unschedulable. If it was schedulable, the
	// leader cordons it and records RolloutNode.cordoned, so that only it uncordons it later.
	Cordoned bool
	// Drained: its pods must be evicted (honouring PodDisruptionBudgets).
	Drained bool
	// Uncordoned: the rollout is done with the node; if the rollout cordoned it, it must be
	// schedulable again.
	Uncordoned bool
	// Target is the update the node must install and boot (Target(r, rn)); "" when the node
	// must not start one. A node keeps no target once its update ended, so it never starts
	// one again by itself.
	Target string
}

// WantFor is what node rn of rollout r needs now.
func WantFor(r *apb.Rollout, rn *apb.RolloutNode) Want {
	switch rn.Phase {
	case apb.RolloutPhase_ROLLOUT_PHASE_DRAINING:
		return Want{Cordoned: true, Drained: true}
	case apb.RolloutPhase_ROLLOUT_PHASE_INSTALLING, apb.RolloutPhase_ROLLOUT_PHASE_REBOOTING:
		return Want{Cordoned: true, Target: Target(r, rn)}
	case apb.RolloutPhase_ROLLOUT_PHASE_RETURNING:
		return Want{Uncordoned: true, Target: Target(r, rn)}
	default:
		return Want{Uncordoned: true}
	}
}
