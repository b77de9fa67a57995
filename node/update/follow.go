package update

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// DefaultFollowRetry is how long the follower waits before trying an attempt again after a
// failure that may pass (no node to fetch from, a network error, an update by hand running).
const DefaultFollowRetry = 15 * time.Second

// FollowConfig is what Follow needs besides the service.
type FollowConfig struct {
	// Targets follows this node's update target as the curator says it
	// (roleserve.Service.UpdateTarget); called once per run of the runnable.
	Targets func() event.Watcher[*cpb.UpdateTarget]
	// Keeper keeps fetched bundles, so that this node hands them on in turn.
	Keeper *Keeper
	// Fetch opens the bundle with SHA-256 sum at another node (NodeManagement.FetchBundle).
	Fetch func(ctx context.Context, src *cpb.BundleSource, sum []byte) (io.ReadCloser, error)
	// Reboot reboots the node (into the staged release, which the firmware boots once).
	Reboot func(ctx context.Context) error
	// Retry: default DefaultFollowRetry.
	Retry time.Duration
}

// errGiveUp marks a failure the follower does not retry: the attempt is reported as failed
// (NodeSoftware.last_failure) and the rollout decides what comes next.
var errGiveUp = errors.New("gave up on the update")

// Follow returns the runnable that carries out the update targets a rollout gives this node:
// fetch the bundle from a node that keeps it, install it into the other slot for the
// attempt, and reboot into it. The trial boot then commits or rolls back as for any update
// (RunTrial), and the rollout sees the outcome in the node's status.
func (s *Service) Follow(cfg FollowConfig) supervisor.Runnable {
	if cfg.Retry == 0 {
		cfg.Retry = DefaultFollowRetry
	}
	return func(ctx context.Context) error {
		log := supervisor.Logger(ctx)
		w := cfg.Targets()
		defer w.Close()
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		var t *cpb.UpdateTarget
		retry := false
		for {
			wctx, cancel := ctx, context.CancelFunc(func() {})
			if retry {
				wctx, cancel = context.WithTimeout(ctx, cfg.Retry)
			}
			next, err := w.Get(wctx)
			cancel()
			switch {
			case err == nil:
				t = next
			case ctx.Err() != nil:
				return ctx.Err()
			case !errors.Is(err, context.DeadlineExceeded):
				return err
			}
			retry = false
			for {
				step := decideFollow(t, s.reportedNow(), cfg.Keeper.Has(t.GetBundleSha256()))
				if step == followIdle {
					break
				}
				err := s.followStep(ctx, step, t, cfg, log)
				if err == nil && step == followReboot {
					<-ctx.Done()
					return ctx.Err()
				}
				if err == nil {
					continue
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if errors.Is(err, errGiveUp) {
					log.Errorf("update %s: %v", t.GetTarget(), err)
					s.setFailure(&apb.UpdateFailure{RolloutId: t.GetTarget(), Message: boundMessage(err.Error())})
					break
				}
				log.Warningf("update %s: %v; trying again in %v", t.GetTarget(), err, cfg.Retry)
				retry = true
				break
			}
		}
	}
}

// reportedNow is the record as reported, with the last failure.
func (s *Service) reportedNow() *apb.NodeSoftware {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reported()
}

// followStep carries out one step towards target t.
func (s *Service) followStep(ctx context.Context, step followStep, t *cpb.UpdateTarget, cfg FollowConfig, log logtree.LeveledLogger) error {
	switch step {
	case followFetch:
		return fetchBundle(ctx, t, cfg, log)
	case followInstall:
		f, _, err := cfg.Keeper.Open(t.GetBundleSha256())
		if err != nil {
			return err
		}
		defer f.Close()
		log.Infof("update %s: installing release %s", t.GetTarget(), t.GetRelease().GetVersion())
		_, _, err = s.Install(ctx, f, t.GetTarget(), log)
		if errors.Is(err, ErrRefused) || errors.Is(err, ErrUnsupported) {
			return fmt.Errorf("%w: %w", errGiveUp, err)
		}
		return err
	case followReboot:
		log.Infof("update %s: release %s is staged; rebooting into it", t.GetTarget(), t.GetRelease().GetVersion())
		return cfg.Reboot(ctx)
	}
	return fmt.Errorf("unknown step %v", step)
}

// fetchBundle fetches t's bundle from the first source that delivers one that verifies and
// keeps it. If every source delivered a bundle this node refuses, it gives up.
func fetchBundle(ctx context.Context, t *cpb.UpdateTarget, cfg FollowConfig, log logtree.LeveledLogger) error {
	if len(t.GetSources()) == 0 {
		return errors.New("no node to fetch the bundle from: none of the nodes keeping it is up")
	}
	var errs []error
	refused := 0
	for _, src := range t.GetSources() {
		err := fetchFrom(ctx, t, src, cfg, log)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrRefused) {
			refused++
		}
		errs = append(errs, fmt.Errorf("from node %s: %w", src.GetNodeId(), err))
	}
	err := errors.Join(errs...)
	if refused == len(t.GetSources()) {
		return fmt.Errorf("%w: %w", errGiveUp, err)
	}
	return err
}

func fetchFrom(ctx context.Context, t *cpb.UpdateTarget, src *cpb.BundleSource, cfg FollowConfig, log logtree.LeveledLogger) error {
	started := time.Now()
	log.Infof("update %s: fetching the bundle of release %s (%d MiB) from node %s at %s", t.GetTarget(), t.GetRelease().GetVersion(), t.GetBundleSize()>>20, src.GetNodeId(), src.GetAddress())
	rc, err := cfg.Fetch(ctx, src, t.GetBundleSha256())
	if err != nil {
		return err
	}
	defer rc.Close()
	kept, err := cfg.Keeper.Keep(ctx, rc, t.GetBundleSize())
	if err != nil {
		return err
	}
	switch {
	case !bytes.Equal(kept.SHA256, t.GetBundleSha256()):
		return fmt.Errorf("%w: the node sent a bundle with SHA-256 %x, not %x", ErrRefused, kept.SHA256[:8], t.GetBundleSha256()[:min(8, len(t.GetBundleSha256()))])
	case kept.Release.GetBuildId() != t.GetRelease().GetBuildId():
		return fmt.Errorf("%w: the bundle holds build %.64s, not %.64s", ErrRefused, kept.Release.GetBuildId(), t.GetRelease().GetBuildId())
	}
	log.Infof("update %s: fetched and checked the bundle in %v", t.GetTarget(), time.Since(started).Round(time.Millisecond))
	return nil
}

// boundMessage keeps a failure's message to what a status report may carry.
func boundMessage(s string) string {
	const max = 500
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
