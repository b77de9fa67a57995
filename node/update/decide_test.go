package update

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/update/bundle"
)

const (
	empty      = apb.SlotState_SLOT_STATE_EMPTY
	committedS = apb.SlotState_SLOT_STATE_COMMITTED
	stagedS    = apb.SlotState_SLOT_STATE_STAGED
	trialS     = apb.SlotState_SLOT_STATE_TRIAL
	rolledBack = apb.SlotState_SLOT_STATE_ROLLED_BACK
	previous   = apb.SlotState_SLOT_STATE_PREVIOUS
)

// record builds a slot record running slot running, with A's and B's states and versions.
func record(running string, a apb.SlotState, av string, b apb.SlotState, bv string) *apb.NodeSoftware {
	return &apb.NodeSoftware{RunningSlot: running, Slots: []*apb.Slot{
		{Name: "A", State: a, Version: av}, {Name: "B", State: b, Version: bv},
	}}
}

func TestDecideBoot(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rec       *apb.NodeSoftware
		facts     bootFacts
		wantKind  BootKind
		wantA     apb.SlotState
		wantB     apb.SlotState
		wantWhy   string // part of B's rollback reason, if any
		wantRunAt string
	}{
		{name: "first boot of an image",
			facts:    bootFacts{running: "A", version: "1"},
			wantKind: BootCommitted, wantA: committedS, wantB: empty},
		{name: "an ordinary reboot",
			rec:      record("A", committedS, "1", empty, ""),
			facts:    bootFacts{running: "A", version: "1"},
			wantKind: BootCommitted, wantA: committedS, wantB: empty},
		{name: "staged, not tried yet (BootNext still set)",
			rec:      record("A", committedS, "1", stagedS, "2"),
			facts:    bootFacts{running: "A", version: "1", trialPending: true},
			wantKind: BootCommitted, wantA: committedS, wantB: stagedS},
		{name: "staged, BootNext used, but back on A: the trial never reached the node",
			rec:      record("A", committedS, "1", stagedS, "2"),
			facts:    bootFacts{running: "A", version: "1"},
			wantKind: BootCommitted, wantA: committedS, wantB: rolledBack, wantWhy: "never reached the node program"},
		{name: "the trial started and the machine came back to A",
			rec:      record("A", committedS, "1", trialS, "2"),
			facts:    bootFacts{running: "A", version: "1"},
			wantKind: BootCommitted, wantA: committedS, wantB: rolledBack, wantWhy: "ended before the node rejoined"},
		{name: "the trial boot of B",
			rec:      record("A", committedS, "1", stagedS, "2"),
			facts:    bootFacts{running: "B", version: "2", trialEntry: true},
			wantKind: BootTrial, wantA: committedS, wantB: trialS},
		{name: "B boots by default after a commit cut short",
			rec:      record("A", committedS, "1", trialS, "2"),
			facts:    bootFacts{running: "B", version: "2"},
			wantKind: BootCommitted, wantA: previous, wantB: committedS},
		{name: "a record without a committed slot is a first boot",
			rec:      record("A", empty, "", empty, ""),
			facts:    bootFacts{running: "B", version: "3"},
			wantKind: BootCommitted, wantA: empty, wantB: committedS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := proto.Clone(tc.rec)
			got, kind := decideBoot(tc.rec, tc.facts)
			if !proto.Equal(before, tc.rec) {
				t.Error("decideBoot changed the record it was given")
			}
			a, b := findSlot(got, "A"), findSlot(got, "B")
			if kind != tc.wantKind || a.State != tc.wantA || b.State != tc.wantB {
				t.Fatalf("got %s, A %s, B %s; want %s, A %s, B %s", kind, a.State, b.State, tc.wantKind, tc.wantA, tc.wantB)
			}
			if !strings.Contains(b.RollbackReason, tc.wantWhy) || (tc.wantWhy == "" && b.RollbackReason != "") {
				t.Errorf("B's rollback reason %q, want one containing %q", b.RollbackReason, tc.wantWhy)
			}
			if got.RunningSlot != tc.facts.running || findSlot(got, tc.facts.running).Version != tc.facts.version {
				t.Errorf("running slot %s version %s, want %s version %s", got.RunningSlot, findSlot(got, tc.facts.running).Version, tc.facts.running, tc.facts.version)
			}
		})
	}
}

func TestDecideBootKeepsTheTrialsOwnReason(t *testing.T) {
	rec := record("A", committedS, "1", trialS, "2")
	rec.Slots[1].RollbackReason = "the node did not rejoin its cluster within 10m0s"
	rec.Slots[1].RollbackLog = []string{"E last words"}
	got, _ := decideBoot(rec, bootFacts{running: "A", version: "1"})
	if b := findSlot(got, "B"); b.RollbackReason != rec.Slots[1].RollbackReason || len(b.RollbackLog) != 1 {
		t.Errorf("rollback reason %q log %v; want the trial's own", b.RollbackReason, b.RollbackLog)
	}
}

func TestSealSlots(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  *apb.NodeSoftware
		want string
	}{
		{"nothing staged", record("A", committedS, "1", empty, ""), ""},
		{"B staged", record("A", committedS, "1", stagedS, "2"), "B"},
		{"trial of B: A must still open", record("B", committedS, "1", trialS, "2"), "A"},
		{"rolled back", record("A", committedS, "1", rolledBack, "2"), ""},
		{"after the commit", record("B", previous, "1", committedS, "2"), ""},
	} {
		got := strings.Join(sealSlots(tc.rec), ",")
		if got != tc.want {
			t.Errorf("%s: seal to %q as well, want %q", tc.name, got, tc.want)
		}
	}
}

func TestInstallSteps(t *testing.T) {
	if _, _, err := beginInstall(record("B", committedS, "1", trialS, "2")); err == nil || !strings.Contains(err.Error(), "a trial is under way") {
		t.Errorf("install during a trial: %v", err)
	}
	rec, slot, err := beginInstall(record("A", committedS, "1", rolledBack, "2"))
	if err != nil || slot != "B" || findSlot(rec, "B").State != empty || findSlot(rec, "B").Version != "" {
		t.Fatalf("begin install over a rolled-back B: %v, slot %s, %v", err, slot, rec)
	}
	rec = staged(rec, "B", &apb.BundleManifest{Version: "3", BuildId: "b3"}, "rollout-1/1")
	if b := findSlot(rec, "B"); b.State != stagedS || b.Version != "3" || b.BuildId != "b3" {
		t.Errorf("staged B: %v", b)
	}
	trial, kind := decideBoot(rec, bootFacts{running: "B", version: "3", trialEntry: true})
	if kind != BootTrial {
		t.Fatalf("boot after staging: %s", kind)
	}
	done := committed(trial)
	if findSlot(done, "B").State != committedS || findSlot(done, "A").State != previous {
		t.Errorf("after commit: %v", done)
	}
	failed := failedTrial(trial, "why", []string{"line"})
	back, _ := decideBoot(failed, bootFacts{running: "A", version: "1"})
	if b := findSlot(back, "B"); b.State != rolledBack || b.RollbackReason != "why" {
		t.Errorf("after a failed trial: %v", b)
	}
}

func TestReadRelease(t *testing.T) {
	root := t.TempDir()
	if v, keys, err := ReadRelease(root); err != nil || v != "unknown" || len(keys) != 0 {
		t.Errorf("an image without release files: %q, %d keys, %v", v, len(keys), err)
	}
	_, pub, _ := bundle.GenerateKey()
	keyDir := filepath.Join(root, layout.SystemReleaseKeysDir)
	os.MkdirAll(keyDir, 0o755)
	os.WriteFile(filepath.Join(root, layout.SystemVersionPath), []byte("2.0.0\n"), 0o644)
	os.WriteFile(filepath.Join(keyDir, "k.pub"), pub, 0o644)
	if v, keys, err := ReadRelease(root); err != nil || v != "2.0.0" || len(keys) != 1 {
		t.Errorf("release files: %q, %d keys, %v", v, len(keys), err)
	}
	os.WriteFile(filepath.Join(keyDir, "bad.pub"), []byte("not a key"), 0o644)
	if _, _, err := ReadRelease(root); err == nil || !strings.Contains(err.Error(), "release key bad.pub") {
		t.Errorf("a damaged key: %v", err)
	}
}
