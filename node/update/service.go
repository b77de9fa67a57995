package update

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/osbase/blockdev"
	"metropolis.dev/metropolis/osbase/efivars"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/event/memory"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/tpm"
)

// DefaultTrialDeadline is how long a trial boot has to rejoin its cluster before it gives up
// and the machine goes back to the committed release. Generous: a node under emulation takes
// minutes to boot, unlock and catch up.
const DefaultTrialDeadline = 15 * time.Minute

// maxTrialLog is how many of a failed trial's last warnings and errors the record keeps.
const maxTrialLog = 20

// Errors the API maps to status codes.
var (
	// ErrBusy: another update of this node is running.
	ErrBusy = errors.New("another update of this node is in progress")
	// ErrUnsupported: this node cannot install updates (and says why).
	ErrUnsupported = errors.New("this node cannot install updates")
	// ErrRefused: the bundle is not one to install (and the error says what is wrong).
	ErrRefused = errors.New("bundle refused")
)

// Sealer is the platform's sealed record, resealed to the boot chains it must open under.
type Sealer interface {
	// SetBootChains makes every later write of the record, and the record now if the node
	// has one, open under exactly these boot chains (the first is the running one).
	SetBootChains(chains []tpm.PCRValues) error
}

// PCRReader reads the TPM's PCRs.
type PCRReader interface {
	ReadPCRs(pcrs []uint) (tpm.PCRValues, error)
}

// Config is what the update service needs from the machine.
type Config struct {
	// ESPDir is where the ESP is mounted, and ESP the partition itself (the trial boot entry
	// names it).
	ESPDir string
	ESP    blockdev.Partition
	// Vars are the firmware's variables; nil where the machine has none (no updates then).
	Vars *efivars.FS
	// Slots are the system partitions by slot, Running the slot stage 1 booted, and Verity
	// the running system's verity parameters (from the kernel command line).
	Slots   map[string]blockdev.Partition
	Running string
	// Version is the running release's version (layout.SystemVersionPath).
	Version string
	// Keys are the release keys this release trusts (layout.SystemReleaseKeysDir).
	Keys []ed25519.PublicKey
	// TPM reads the PCRs; EventLog returns the firmware's TPM event log (default
	// tpm.ReadEventLog). Both are needed to predict a new release's boot chain.
	TPM      PCRReader
	EventLog func() ([]byte, error)
	// Sealer is the sealed record, resealed whenever the chains it must open under change.
	Sealer Sealer
	// Logs is the node's log tree; a failed trial keeps its last warnings and errors.
	Logs *logtree.LogTree
	// Clock times the trial deadline; nil: the real clock.
	Clock clock.Clock
	// TrialDeadline: default DefaultTrialDeadline.
	TrialDeadline time.Duration
}

// Service is the node's update mechanism. Create it with New at start, before the node opens
// its sealed record.
type Service struct {
	cfg  Config
	fw   *firmware
	kind BootKind
	// installing is held while an install runs: one at a time.
	installing sync.Mutex
	// mu guards rec (the record as stored) and its publication.
	mu  sync.Mutex
	rec *apb.NodeSoftware
	// failure is the last rollout attempt the follower gave up on; it lives only as long as
	// the node program (a reboot is a fresh start) and is reported with the record.
	failure *apb.UpdateFailure
	pub     memory.Value[*apb.NodeSoftware]
}

// New reads the slot record, decides what this boot is, stores the record and sets the
// sealed record's boot chains accordingly. It fails only where the node cannot go on safely:
// on a trial boot whose committed release's boot chain cannot be predicted (the record could
// then not be kept openable for a rollback).
func New(cfg Config) (*Service, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.TrialDeadline == 0 {
		cfg.TrialDeadline = DefaultTrialDeadline
	}
	if cfg.EventLog == nil {
		cfg.EventLog = tpm.ReadEventLog
	}
	s := &Service{cfg: cfg}
	facts := bootFacts{running: cfg.Running, version: cfg.Version}
	if cfg.Vars != nil {
		s.fw = &firmware{vars: cfg.Vars, esp: cfg.ESP}
		var err error
		if facts.trialEntry, err = s.fw.bootedTrial(); err != nil {
			return nil, err
		}
		if facts.trialPending, err = s.fw.trialPending(); err != nil {
			return nil, err
		}
	}
	stored, err := readRecord(cfg.ESPDir)
	if err != nil {
		// The record is rebuilt from what boots.
		stored = nil
	}
	rec, kind := decideBoot(stored, facts)
	if r := findSlot(stored, cfg.Running); r != nil && r.Version == cfg.Version {
		findSlot(rec, cfg.Running).BuildId = r.BuildId
		rec.BuildId = r.BuildId
	}
	s.kind = kind
	if err := writeRecord(cfg.ESPDir, rec); err != nil {
		return nil, err
	}
	s.setRecord(rec)
	if err := s.reseal(rec); err != nil {
		if kind == BootTrial {
			return nil, fmt.Errorf("trial boot: cannot keep the sealed record openable by the committed release: %w", err)
		}
		// A committed boot seals to what runs; a staged release whose chain is lost fails its
		// trial (it cannot unseal) and rolls back.
		if err := cfg.Sealer.SetBootChains(nil); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Keys are the release keys this release trusts.
func (s *Service) Keys() []ed25519.PublicKey { return s.cfg.Keys }

// Kind is what this boot is: committed or a trial.
func (s *Service) Kind() BootKind { return s.kind }

// Software follows the slot record as the node reports it.
func (s *Service) Software() event.Watcher[*apb.NodeSoftware] { return s.pub.Watch() }

// Current is the slot record now.
func (s *Service) Current() *apb.NodeSoftware {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec
}

func (s *Service) setRecord(rec *apb.NodeSoftware) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec = rec
	s.pub.Set(s.reported())
}

// setFailure records a rollout attempt given up on, and publishes it.
func (s *Service) setFailure(f *apb.UpdateFailure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failure = f
	s.pub.Set(s.reported())
}

// reported is the record as the node reports it: with the last failure, if any. Called with
// mu held.
func (s *Service) reported() *apb.NodeSoftware {
	if s.failure == nil {
		return s.rec
	}
	r := proto.Clone(s.rec).(*apb.NodeSoftware)
	r.LastFailure = s.failure
	return r
}

// store writes rec to the ESP and publishes it.
func (s *Service) store(rec *apb.NodeSoftware) error {
	if err := writeRecord(s.cfg.ESPDir, rec); err != nil {
		return err
	}
	s.setRecord(rec)
	return nil
}

// reseal sets the sealed record's boot chains for rec: the running chain, and each slot
// sealSlots names, predicted from the event log.
func (s *Service) reseal(rec *apb.NodeSoftware) error {
	var chains []tpm.PCRValues
	extra := sealSlots(rec)
	if len(extra) > 0 {
		current, err := s.cfg.TPM.ReadPCRs(tpm.BootPCRs)
		if err != nil {
			return err
		}
		chains = append(chains, current)
		for _, slot := range extra {
			c, err := s.predict(current, slot)
			if err != nil {
				return fmt.Errorf("predicting slot %s's boot chain: %w", slot, err)
			}
			chains = append(chains, c)
		}
	}
	return s.cfg.Sealer.SetBootChains(chains)
}

// predict computes the PCRs the firmware will leave when it boots slot's UKI instead of the
// running one.
func (s *Service) predict(current tpm.PCRValues, slot string) (tpm.PCRValues, error) {
	rec := s.Current()
	from, err := measureFile(filepath.Join(s.cfg.ESPDir, ukiPath(rec, s.cfg.Running)))
	if err != nil {
		return nil, fmt.Errorf("the running UKI: %w", err)
	}
	to, err := measureFile(filepath.Join(s.cfg.ESPDir, ukiPath(rec, slot)))
	if err != nil {
		return nil, fmt.Errorf("slot %s's UKI: %w", slot, err)
	}
	log, err := s.cfg.EventLog()
	if err != nil {
		return nil, err
	}
	return tpm.PredictBootChain(log, current, replacements(from, to))
}

// ukiPath is where the UKI the firmware boots for slot is: the default path for the
// committed slot, the slot's own file otherwise.
func ukiPath(rec *apb.NodeSoftware, slot string) string {
	if committedSlot(rec) == slot {
		return layout.ESPBootPath
	}
	return layout.ESPSlotUKIPath(slot)
}

// recentProblems returns the node's last warnings and errors, for a failed trial's record.
func (s *Service) recentProblems() []string {
	if s.cfg.Logs == nil {
		return nil
	}
	r, err := s.cfg.Logs.Read("", logtree.WithChildren(), logtree.WithBacklog(maxTrialLog), logtree.LeveledWithMinimumSeverity(logtree.WARNING))
	if err != nil {
		return nil
	}
	defer r.Close()
	var out []string
	for _, e := range r.Backlog {
		line := e.String()
		if len(line) > 300 {
			line = line[:300] + "..."
		}
		out = append(out, line)
	}
	return out
}

func readFileLimited(path string, max int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, at most %d", path, st.Size(), max)
	}
	return os.ReadFile(path)
}

// ReadRelease reads the running release's version and trusted keys from the system partition
// mounted at root ("/" on a node).
func ReadRelease(root string) (string, []ed25519.PublicKey, error) {
	v, err := os.ReadFile(filepath.Join(root, layout.SystemVersionPath))
	if errors.Is(err, os.ErrNotExist) {
		// An image from before releases had versions.
		v = []byte("unknown")
	} else if err != nil {
		return "", nil, fmt.Errorf("release version: %w", err)
	}
	entries, err := os.ReadDir(filepath.Join(root, layout.SystemReleaseKeysDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", nil, err
	}
	var keys []ed25519.PublicKey
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(root, layout.SystemReleaseKeysDir, e.Name()))
		if err != nil {
			return "", nil, err
		}
		k, err := parseKey(data)
		if err != nil {
			return "", nil, fmt.Errorf("release key %s: %w", e.Name(), err)
		}
		keys = append(keys, k)
	}
	return strings.TrimSpace(string(v)), keys, nil
}
