package cli

import (
	"strings"
	"testing"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestTrialOutcome(t *testing.T) {
	sw := func(running, version string, b apb.SlotState, buildID, why string) *apb.NodeSoftware {
		return &apb.NodeSoftware{Version: version, RunningSlot: running, Slots: []*apb.Slot{
			{Name: "A", State: apb.SlotState_SLOT_STATE_COMMITTED, Version: "1"},
			{Name: "B", State: b, Version: "2", BuildId: buildID, RollbackReason: why},
		}}
	}
	for _, tc := range []struct {
		name string
		sw   *apb.NodeSoftware
		done bool
		want string
	}{
		{"no report (the node reboots)", nil, false, "waiting for the node's report"},
		{"staged, not rebooted yet", sw("A", "1", apb.SlotState_SLOT_STATE_STAGED, "b2", ""), false, "slot B is staged"},
		{"on trial", sw("B", "2", apb.SlotState_SLOT_STATE_TRIAL, "b2", ""), false, "slot B is trial"},
		{"committed", sw("B", "2", apb.SlotState_SLOT_STATE_COMMITTED, "b2", ""), true, "release 2 committed"},
		{"rolled back", sw("A", "1", apb.SlotState_SLOT_STATE_ROLLED_BACK, "b2", "no heartbeat"), true, "rolled back; the node runs 1 again: no heartbeat"},
		{"an older rollback of another build", sw("A", "1", apb.SlotState_SLOT_STATE_ROLLED_BACK, "b1", "old"), false, "slot B is rolled back"},
	} {
		got, done, _ := trialOutcome(tc.sw, "B", "b2")
		if done != tc.done || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, done %v; want %q, done %v", tc.name, got, done, tc.want, tc.done)
		}
	}
}
