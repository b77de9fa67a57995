package update

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/osbase/efivars"
	"metropolis.dev/metropolis/osbase/event/memory"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
	"metropolis.dev/metropolis/osbase/tpm"
)

// fakeSealer records the chains it was told to seal to.
type fakeSealer struct{ calls [][]tpm.PCRValues }

func (f *fakeSealer) SetBootChains(c []tpm.PCRValues) error {
	f.calls = append(f.calls, c)
	return nil
}

// trialService is a Service in the trial boot of slot B (A committed), with its ESP and
// firmware variables in temporary directories.
func trialService(t *testing.T, clk *clocktesting.FakeClock) (*Service, *fakeSealer, *efivars.FS) {
	t.Helper()
	esp := t.TempDir()
	vars := &efivars.FS{Dir: t.TempDir()}
	for path, data := range map[string]string{layout.ESPBootPath: "UKI of release 1", layout.ESPSlotUKIPath("B"): "UKI of release 2"} {
		if err := writeESP(esp, path, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	fw := &firmware{vars: vars}
	if err := fw.armTrial("B"); err != nil {
		t.Fatal(err)
	}
	n, _, _ := vars.BootNext()
	if err := vars.Write("BootCurrent", efivars.GlobalVariable, 6, []byte{byte(n), byte(n >> 8)}); err != nil {
		t.Fatal(err)
	}
	if err := vars.DeleteBootNext(); err != nil {
		t.Fatal(err)
	}
	sealer := &fakeSealer{}
	s := &Service{cfg: Config{ESPDir: esp, Running: "B", Version: "2", Sealer: sealer, Clock: clk, TrialDeadline: time.Hour}, fw: fw, kind: BootTrial}
	s.setRecord(record("B", committedS, "1", trialS, "2"))
	return s, sealer, vars
}

func runTrial(t *testing.T, s *Service, rejoined *memory.Value[Rejoined]) (<-chan error, *logtree.LogTree) {
	done := make(chan error, 1)
	_, lt := supervisor.TestHarness(t, func(ctx context.Context) error {
		err := s.RunTrial(ctx, rejoined.Watch())
		done <- err
		if errors.Is(err, ErrTrialFailed) {
			supervisor.Signal(ctx, supervisor.SignalDone)
			return nil
		}
		return err
	})
	return done, lt
}

// logged waits until the log tree holds an entry containing want.
func logged(t *testing.T, lt *logtree.LogTree, want string) {
	t.Helper()
	eventually.Pass(t, 10*time.Second, "log entry "+want, func(context.Context) error {
		r, err := lt.Read("", logtree.WithChildren(), logtree.WithBacklog(logtree.BacklogAll))
		if err != nil {
			return err
		}
		defer r.Close()
		for _, e := range r.Backlog {
			if strings.Contains(e.String(), want) {
				return nil
			}
		}
		return errors.New("not logged yet")
	})
}

func TestTrialCommitsOnceRejoined(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	s, sealer, vars := trialService(t, clk)
	var rejoined memory.Value[Rejoined]
	rejoined.Set(Rejoined{Reason: "no heartbeat yet"})
	done, _ := runTrial(t, s, &rejoined)
	rejoined.Set(Rejoined{OK: true})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunTrial: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the trial did not commit")
	}
	if got, _ := os.ReadFile(filepath.Join(s.cfg.ESPDir, layout.ESPBootPath)); string(got) != "UKI of release 2" {
		t.Errorf("the default boot path holds %q after the commit", got)
	}
	if trial, _ := (&firmware{vars: vars}).bootedTrial(); trial {
		t.Error("the trial entry is still there after the commit")
	}
	rec, err := readRecord(s.cfg.ESPDir)
	if err != nil || findSlot(rec, "B").State != committedS || findSlot(rec, "A").State != previous {
		t.Errorf("record after the commit: %v, %v", rec, err)
	}
	if len(sealer.calls) != 1 || sealer.calls[0] != nil {
		t.Errorf("sealed to %v after the commit, want the running chain alone", sealer.calls)
	}
}

func TestTrialGivesUpAtItsDeadline(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	s, _, _ := trialService(t, clk)
	var rejoined memory.Value[Rejoined]
	rejoined.Set(Rejoined{Reason: "the local etcd member does not vote yet"})
	done, lt := runTrial(t, s, &rejoined)
	// The trial has armed its deadline once it heard why it cannot commit yet.
	logged(t, lt, "not committing yet: the local etcd member does not vote yet")
	clk.Step(time.Hour)
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the trial did not give up at its deadline")
	}
	if !errors.Is(err, ErrTrialFailed) || !strings.Contains(err.Error(), "did not rejoin its cluster within 1h0m0s (the local etcd member does not vote yet)") {
		t.Errorf("RunTrial: %v", err)
	}
	rec, _ := readRecord(s.cfg.ESPDir)
	if b := findSlot(rec, "B"); b.State != trialS || !strings.Contains(b.RollbackReason, "did not rejoin") {
		t.Errorf("record after giving up: %v", b)
	}
	// The committed release, booted next, reports it.
	back, _ := decideBoot(rec, bootFacts{running: "A", version: "1"})
	if b := findSlot(back, "B"); b.State != rolledBack || !strings.Contains(b.RollbackReason, "did not rejoin") {
		t.Errorf("after the rollback: %v", b)
	}
}
