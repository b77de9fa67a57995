package update

import (
	"testing"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

func TestDecideFollow(t *testing.T) {
	target := &cpb.UpdateTarget{Target: "rollout-1/1", Release: &apb.BundleManifest{Version: "2", BuildId: "b2"}}
	on1 := func(other *apb.Slot) *apb.NodeSoftware {
		if other == nil {
			other = &apb.Slot{Name: "B", State: apb.SlotState_SLOT_STATE_EMPTY}
		}
		return &apb.NodeSoftware{Version: "1", BuildId: "b1", RunningSlot: "A", Slots: []*apb.Slot{
			{Name: "A", State: apb.SlotState_SLOT_STATE_COMMITTED, BuildId: "b1"}, other}}
	}
	otherB := func(s apb.SlotState, id string) *apb.Slot {
		return &apb.Slot{Name: "B", State: s, BuildId: "b2", RolloutId: id}
	}
	failed := on1(nil)
	failed.LastFailure = &apb.UpdateFailure{RolloutId: "rollout-1/1", Message: "no source"}
	failedBefore := on1(nil)
	failedBefore.LastFailure = &apb.UpdateFailure{RolloutId: "rollout-1/0"}
	for _, tc := range []struct {
		name   string
		target *cpb.UpdateTarget
		sw     *apb.NodeSoftware
		kept   bool
		want   followStep
	}{
		{"no target", nil, on1(nil), false, followIdle},
		{"an empty target", &cpb.UpdateTarget{}, on1(nil), false, followIdle},
		{"not kept: fetch", target, on1(nil), false, followFetch},
		{"kept: install", target, on1(nil), true, followInstall},
		{"staged for this attempt: reboot", target, on1(otherB(apb.SlotState_SLOT_STATE_STAGED, "rollout-1/1")), true, followReboot},
		{"staged for another attempt: install over it", target, on1(otherB(apb.SlotState_SLOT_STATE_STAGED, "rollout-1/0")), true, followInstall},
		{"staged by hand: install over it", target, on1(otherB(apb.SlotState_SLOT_STATE_STAGED, "")), false, followFetch},
		{"this attempt rolled back: never again", target, on1(otherB(apb.SlotState_SLOT_STATE_ROLLED_BACK, "rollout-1/1")), true, followIdle},
		{"an older attempt rolled back: try this one", target, on1(otherB(apb.SlotState_SLOT_STATE_ROLLED_BACK, "rollout-1/0")), true, followInstall},
		{"this attempt given up on: never again", target, failed, true, followIdle},
		{"an older attempt given up on: try this one", target, failedBefore, true, followInstall},
		{"running the release: idle", target, &apb.NodeSoftware{BuildId: "b2", RunningSlot: "B"}, false, followIdle},
	} {
		if got := decideFollow(tc.target, tc.sw, tc.kept); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
