package update

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/platform/image/layout"
)

// BootKind is what this boot is, as decideBoot sees it.
type BootKind int

const (
	// BootCommitted runs the committed release.
	BootCommitted BootKind = iota
	// BootTrial runs a newly installed release once; it commits or the machine goes back.
	BootTrial
)

func (k BootKind) String() string {
	if k == BootTrial {
		return "trial"
	}
	return "committed"
}

// bootFacts is what the node knows at start about how it booted.
type bootFacts struct {
	// running is the slot stage 1 booted (A or B).
	running string
	// version and buildID of the running release.
	version, buildID string
	// trialEntry: the firmware started this boot through the one-time trial entry.
	trialEntry bool
	// trialPending: BootNext still names the trial entry, so the staged slot has not been
	// tried yet.
	trialPending bool
}

// Reasons given for a rollback when the trial did not record one itself.
const (
	reasonNeverStarted = "the trial boot never reached the node program: the kernel or stage 1 failed, hung until the watchdog reset the machine, or the machine lost power"
	reasonNoCommit     = "the trial boot ended before the node rejoined its cluster: the node program stopped, or the machine was reset"
)

// decideBoot returns the slot record after this boot started, and what the boot is. rec is
// the record as stored (nil on the first boot of an image). It never fails: whatever the
// record says, the running slot is the truth about what booted.
func decideBoot(rec *apb.NodeSoftware, f bootFacts) (*apb.NodeSoftware, BootKind) {
	next := &apb.NodeSoftware{RunningSlot: f.running, Version: f.version, BuildId: f.buildID}
	slots := map[string]*apb.Slot{}
	if rec != nil {
		for _, s := range rec.Slots {
			slots[s.Name] = proto.Clone(s).(*apb.Slot)
		}
	}
	run, other := slot(slots, f.running), slot(slots, layout.OtherSlot(f.running))
	run.Version, run.BuildId = f.version, f.buildID
	kind := BootCommitted
	switch {
	case rec == nil || committedSlot(rec) == "":
		// First boot of an image: what runs is committed; the other slot was never written.
		run.State = apb.SlotState_SLOT_STATE_COMMITTED
		if other.State == apb.SlotState_SLOT_STATE_UNSPECIFIED {
			other.State = apb.SlotState_SLOT_STATE_EMPTY
		}
	case committedSlot(rec) == f.running:
		switch {
		case other.State == apb.SlotState_SLOT_STATE_STAGED && !f.trialPending:
			other.State, other.RollbackReason = apb.SlotState_SLOT_STATE_ROLLED_BACK, reasonNeverStarted
		case other.State == apb.SlotState_SLOT_STATE_TRIAL:
			other.State = apb.SlotState_SLOT_STATE_ROLLED_BACK
			if other.RollbackReason == "" {
				other.RollbackReason = reasonNoCommit
			}
		}
	case f.trialEntry:
		// Started once through the trial entry: a trial, until it commits.
		run.State, run.RollbackReason, run.RollbackLog = apb.SlotState_SLOT_STATE_TRIAL, "", nil
		kind = BootTrial
	default:
		// The default boot path runs a slot the record does not call committed: a commit
		// that copied the UKI but was cut off before it wrote the record. What boots by
		// default is committed.
		run.State = apb.SlotState_SLOT_STATE_COMMITTED
		other.State = apb.SlotState_SLOT_STATE_PREVIOUS
	}
	next.Slots = []*apb.Slot{slots["A"], slots["B"]}
	return next, kind
}

// slot returns the named slot of slots, adding an empty one if it is missing.
func slot(slots map[string]*apb.Slot, name string) *apb.Slot {
	s, ok := slots[name]
	if !ok {
		s = &apb.Slot{Name: name, State: apb.SlotState_SLOT_STATE_EMPTY}
		slots[name] = s
	}
	return s
}

// committedSlot is the record's committed slot, or "".
func committedSlot(rec *apb.NodeSoftware) string {
	for _, s := range rec.GetSlots() {
		if s.State == apb.SlotState_SLOT_STATE_COMMITTED {
			return s.Name
		}
	}
	return ""
}

func findSlot(rec *apb.NodeSoftware, name string) *apb.Slot {
	for _, s := range rec.GetSlots() {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// sealSlots are the slots whose boot chains the sealed record must open under, besides the
// running one: a staged release (its trial must unlock the data), and during a trial the
// committed release (a rollback must unlock it too).
func sealSlots(rec *apb.NodeSoftware) []string {
	other := layout.OtherSlot(rec.RunningSlot)
	o := findSlot(rec, other)
	r := findSlot(rec, rec.RunningSlot)
	switch {
	case o != nil && o.State == apb.SlotState_SLOT_STATE_STAGED:
		return []string{other}
	case r != nil && r.State == apb.SlotState_SLOT_STATE_TRIAL && o != nil && o.State == apb.SlotState_SLOT_STATE_COMMITTED:
		return []string{other}
	}
	return nil
}

// beginInstall returns the record with the other slot emptied for a new release, or why no
// install may start now.
func beginInstall(rec *apb.NodeSoftware) (*apb.NodeSoftware, string, error) {
	r := findSlot(rec, rec.GetRunningSlot())
	if r == nil || r.State != apb.SlotState_SLOT_STATE_COMMITTED {
		state := "unknown"
		if r != nil {
			state = r.State.String()
		}
		return nil, "", fmt.Errorf("the running slot %s is not committed (%s): a trial is under way; it commits or rolls back first", rec.GetRunningSlot(), state)
	}
	next := proto.Clone(rec).(*apb.NodeSoftware)
	other := layout.OtherSlot(rec.RunningSlot)
	o := findSlot(next, other)
	*o = apb.Slot{Name: other, State: apb.SlotState_SLOT_STATE_EMPTY}
	return next, other, nil
}

// staged returns the record with slot holding the installed release, to be tried next boot,
// installed for the rollout attempt target ("" for none).
func staged(rec *apb.NodeSoftware, name string, m *apb.BundleManifest, target string) *apb.NodeSoftware {
	next := proto.Clone(rec).(*apb.NodeSoftware)
	s := findSlot(next, name)
	*s = apb.Slot{Name: name, State: apb.SlotState_SLOT_STATE_STAGED, Version: m.Version, BuildId: m.BuildId, RolloutId: target}
	return next
}

// committed returns the record after the running trial slot committed.
func committed(rec *apb.NodeSoftware) *apb.NodeSoftware {
	next := proto.Clone(rec).(*apb.NodeSoftware)
	for _, s := range next.Slots {
		switch {
		case s.Name == next.RunningSlot:
			s.State = apb.SlotState_SLOT_STATE_COMMITTED
		case s.State == apb.SlotState_SLOT_STATE_COMMITTED:
			s.State = apb.SlotState_SLOT_STATE_PREVIOUS
		}
	}
	return next
}

// failedTrial returns the record with why the running trial gives up, and its last log
// lines, for the committed release to report after the rollback.
func failedTrial(rec *apb.NodeSoftware, reason string, log []string) *apb.NodeSoftware {
	next := proto.Clone(rec).(*apb.NodeSoftware)
	s := findSlot(next, next.RunningSlot)
	s.RollbackReason, s.RollbackLog = reason, log
	return next
}
