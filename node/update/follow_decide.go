package update

import (
	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/platform/image/layout"
)

// followStep is what the node does next about its update target.
type followStep int

const (
	// followIdle: nothing to do (no target, already there, or the attempt ended).
	followIdle followStep = iota
	// followFetch: fetch the bundle from another node and keep it.
	followFetch
	// followInstall: install the kept bundle into the other slot.
	followInstall
	// followReboot: the release is staged for this attempt; reboot into it.
	followReboot
)

func (s followStep) String() string {
	return [...]string{"idle", "fetch", "install", "reboot"}[s]
}

// decideFollow is the next step towards target t, given the node's software and whether it
// keeps t's bundle. An attempt the node already tried (rolled back, or given up on) is never
// tried again by the node itself: a rollout that wants another try names a new attempt.
func decideFollow(t *cpb.UpdateTarget, sw *apb.NodeSoftware, kept bool) followStep {
	if t == nil || t.GetTarget() == "" {
		return followIdle
	}
	if sw.GetBuildId() == t.GetRelease().GetBuildId() {
		// Running it: committed, or a trial the trial runnable commits or rolls back.
		return followIdle
	}
	if sw.GetLastFailure().GetRolloutId() == t.GetTarget() {
		return followIdle
	}
	for _, s := range sw.GetSlots() {
		if s.GetName() != layout.OtherSlot(sw.GetRunningSlot()) || s.GetRolloutId() != t.GetTarget() {
			continue
		}
		switch s.GetState() {
		case apb.SlotState_SLOT_STATE_STAGED:
			return followReboot
		case apb.SlotState_SLOT_STATE_ROLLED_BACK, apb.SlotState_SLOT_STATE_TRIAL, apb.SlotState_SLOT_STATE_PREVIOUS:
			return followIdle
		}
	}
	if !kept {
		return followFetch
	}
	return followInstall
}
