package update

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Rejoined says whether the node is back in its cluster, as a trial needs before it commits:
// data unlocked, heartbeats answered by the curator leader, and for a consensus member its
// etcd member voting and serving reads. Reason says what is still missing when it is not.
type Rejoined struct {
	OK     bool
	Reason string
}

// RunTrial is the runnable that ends a trial boot: it commits once rejoined reports OK, or,
// when the trial deadline passes first, records why the trial failed and returns
// ErrTrialFailed, whose caller reboots the machine (into the committed release: the firmware
// used its one-time BootNext for this boot). On a committed boot it has nothing to do.
func (s *Service) RunTrial(ctx context.Context, rejoined event.Watcher[Rejoined]) error {
	if s.kind != BootTrial {
		supervisor.Signal(ctx, supervisor.SignalDone)
		return nil
	}
	logger := supervisor.Logger(ctx)
	logger.Infof("trial boot of release %s in slot %s: committing once the node is back in its cluster, or going back to the committed release after %s",
		s.cfg.Version, s.cfg.Running, s.cfg.TrialDeadline)
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	deadline := s.cfg.Clock.After(s.cfg.TrialDeadline)
	states := make(chan Rejoined)
	go func() {
		for {
			r, err := rejoined.Get(ctx)
			if err != nil {
				return
			}
			select {
			case states <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	last := Rejoined{Reason: "the node has not said yet"}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case last = <-states:
			if !last.OK {
				logger.Infof("trial: not committing yet: %s", last.Reason)
				continue
			}
			if err := s.commit(); err != nil {
				return s.fail(fmt.Sprintf("the commit failed: %v", err))
			}
			logger.Infof("release %s in slot %s committed: it is the default boot now", s.cfg.Version, s.cfg.Running)
			supervisor.Signal(ctx, supervisor.SignalDone)
			return nil
		case <-deadline:
			return s.fail(fmt.Sprintf("the node did not rejoin its cluster within %s (%s)", s.cfg.TrialDeadline, last.Reason))
		}
	}
}

// ErrTrialFailed is returned by RunTrial when the trial gives up; the machine must reboot.
var ErrTrialFailed = fmt.Errorf("the trial boot failed; rebooting into the committed release")

// commit makes the running slot the default boot: its UKI goes to the firmware's default
// path, the trial entry goes away, and the record reseals to this boot chain alone.
func (s *Service) commit() error {
	uki, err := os.ReadFile(filepath.Join(s.cfg.ESPDir, layout.ESPSlotUKIPath(s.cfg.Running)))
	if err != nil {
		return fmt.Errorf("the running slot's UKI: %w", err)
	}
	if err := writeESP(s.cfg.ESPDir, layout.ESPBootPath, uki); err != nil {
		return err
	}
	if err := s.fw.clearTrial(); err != nil {
		return err
	}
	next := committed(s.Current())
	if err := s.store(next); err != nil {
		return err
	}
	s.kind = BootCommitted
	return s.reseal(next)
}

// fail records why the trial gives up and the node's last problems, for the committed
// release to report after the rollback.
func (s *Service) fail(reason string) error {
	next := failedTrial(s.Current(), reason, s.recentProblems())
	if err := s.store(next); err != nil {
		return fmt.Errorf("%w (%s; recording it failed: %v)", ErrTrialFailed, reason, err)
	}
	return fmt.Errorf("%w: %s", ErrTrialFailed, reason)
}
