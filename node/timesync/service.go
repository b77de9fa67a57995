package timesync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/utils/clock"

	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/event/memory"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Defaults of Config.
const (
	DefaultPoll  = 64 * time.Second
	DefaultBurst = 4
	// retryUnsynced is how soon a node that has never synchronised asks again.
	retryUnsynced = 5 * time.Second
)

// Config is what the service needs.
type Config struct {
	// Servers lists the NTP servers to ask (host or host:port), read at every poll.
	Servers func() []string
	// IsReference, if set, tells at every poll whether this node is the cluster's time
	// reference: it serves its own clock, after it asked Peers once (reference.go).
	IsReference func() bool
	// Peers lists the other consensus members (host:port), whom a node that becomes the
	// reference asks for the cluster's time before it serves its own; nil: none.
	Peers func() []string
	// MeasureOnly leaves the clock alone: for nodes that share their machine's clock (hosted).
	MeasureOnly bool
	// Clock is adjusted; nil: KernelClock.
	Clock Clock
	// Query asks one server once; nil: QueryNTP.
	Query func(ctx context.Context, server string) (Sample, error)
	// Time is what the service waits by; nil: the real clock.
	Time clock.WithTicker
	// Poll is how often the servers are asked once synchronised; zero: DefaultPoll.
	Poll time.Duration
	// Burst is how many questions each server gets per poll, of which the best answer counts
	// (on a loaded machine most round trips are delayed); zero: DefaultBurst.
	Burst int
}

// Status is what the service last did, for the node's status.
type Status struct {
	// Synced tells whether the clock has been set from a server since the service started.
	Synced bool
	// Reference tells that the node serves its own clock as the cluster's time reference.
	// Server, Stratum, Offset and Adjust then describe the peer it took the cluster's time
	// from when it became the reference, if one knew it.
	Reference bool
	// Checking tells that the node is the reference but still asks its peers for the
	// cluster's time, since CheckingSince; it serves no time meanwhile.
	Checking      bool
	CheckingSince time.Time
	// Server, Stratum, Offset and RootDistance describe the last answer used: Offset is how
	// far the clock was off before it was corrected (positive: behind).
	Server       string
	Stratum      uint8
	Offset       time.Duration
	RootDistance time.Duration
	// LastSync is when that answer came; Adjust how the clock was corrected.
	LastSync time.Time
	Adjust   Adjustment
	// Warning is said loudly: the clock was far off.
	Warning string
	// Error says why the last poll failed, if it did.
	Error string
}

// Service keeps the clock. Run it under the supervisor.
type Service struct {
	cfg    Config
	status memory.Value[*Status]
	// resync wakes Run before its next poll is due (Resync).
	resync chan struct{}
}

// New fills in cfg's defaults.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = KernelClock{}
	}
	if cfg.Query == nil {
		cfg.Query = QueryNTP
	}
	if cfg.Time == nil {
		cfg.Time = clock.RealClock{}
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Servers == nil {
		cfg.Servers = func() []string { return nil }
	}
	if cfg.Peers == nil {
		cfg.Peers = func() []string { return nil }
	}
	return &Service{cfg: cfg, resync: make(chan struct{}, 1)}
}

// Resync makes the service poll now rather than at its next poll: the servers changed (the
// node's configuration names others). It never blocks.
func (s *Service) Resync() {
	select {
	case s.resync <- struct{}{}:
	default:
	}
}

// Watch follows the service's status.
func (s *Service) Watch() event.Watcher[*Status] { return s.status.Watch() }

// Run polls the servers until ctx ends: soon again while the clock has never been set, every
// Poll after.
func (s *Service) Run(ctx context.Context) error {
	logger := supervisor.Logger(ctx)
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	last := &Status{}
	for {
		now := s.Sync(ctx, last)
		switch {
		case now.Warning != "" && now.LastSync != last.LastSync:
			logger.Errorf("%s", now.Warning)
		case now.Checking && !last.Checking:
			logger.Infof("this node is the cluster's time reference: it asks the other consensus members for the cluster's time before it serves its own")
		case now.Error != "" && now.Error != last.Error:
			logger.Warningf("time: %s", now.Error)
		case now.Reference && !last.Reference && now.Server != "":
			logger.Infof("this node is the cluster's time reference: it took the cluster's time from %s (stratum %d, %v off, %sed) and serves its own clock now; the other nodes follow it",
				now.Server, now.Stratum, now.Offset.Round(time.Microsecond), now.Adjust)
		case now.Reference && !last.Reference:
			logger.Infof("this node is the cluster's time reference: it serves its own clock, and the other nodes follow it")
		case now.Synced && !last.Synced:
			logger.Infof("clock synchronised with %s (stratum %d): it was %v off, %sed", now.Server, now.Stratum, now.Offset.Round(time.Microsecond), now.Adjust)
		}
		last = now
		wait := s.cfg.Poll
		if !now.Synced {
			wait = retryUnsynced
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.cfg.Time.After(wait):
		case <-s.resync:
		}
	}
}

// Sync polls the servers once, corrects the clock by the best answer and publishes the new
// status, which it returns. prev is the status before (what it knows of earlier polls).
func (s *Service) Sync(ctx context.Context, prev *Status) *Status {
	next := *prev
	next.Error, next.Warning = "", ""
	defer func() { s.status.Set(&next) }()
	if s.cfg.IsReference != nil && s.cfg.IsReference() {
		if prev.Reference {
			return &next
		}
		next = *s.becomeReference(ctx, prev)
		return &next
	}
	next.Reference, next.Checking = false, false
	servers := s.cfg.Servers()
	if len(servers) == 0 {
		next.Error = "no NTP server known"
		return &next
	}
	samples, _, errs := s.ask(ctx, servers)
	best, ok := Best(samples)
	if !ok {
		next.Error = fmt.Sprintf("no server answered usably: %v", errors.Join(errs...))
		return &next
	}
	synced, err := s.correct(best, prev.Synced)
	if err != nil {
		next.Error = err.Error()
		return &next
	}
	next = *synced
	return &next
}

// ask puts Burst questions to each server and returns the usable answers, how many servers
// answered at all (usably or not), and the errors.
func (s *Service) ask(ctx context.Context, servers []string) (samples []Sample, answered int, errs []error) {
	for _, server := range servers {
		heard := false
		for range s.cfg.Burst {
			sample, err := s.cfg.Query(ctx, server)
			if err != nil {
				errs = append(errs, err)
				heard = heard || errors.Is(err, ErrAnsweredUnusably)
				break // a server that does not answer once is not asked again this poll
			}
			samples, heard = append(samples, sample), true
		}
		if heard {
			answered++
		}
	}
	return samples, answered, errs
}

// correct corrects the clock by best, as Decide says (synced: whether the clock was set
// before), and returns the status of a node synchronised with best's server.
func (s *Service) correct(best Sample, synced bool) (*Status, error) {
	action := Decide(best, synced)
	var err error
	switch {
	case s.cfg.MeasureOnly:
		action.Adjust = Measured
	case action.Adjust == Step:
		err = s.cfg.Clock.Step(action.Offset)
	default:
		err = s.cfg.Clock.Slew(action.Offset, best.distance(), s.cfg.Poll)
	}
	if err != nil {
		return nil, err
	}
	return &Status{
		Synced: true, Server: best.Server, Stratum: best.Stratum, Offset: best.Offset,
		RootDistance: best.distance(), LastSync: s.cfg.Time.Now(), Adjust: action.Adjust,
		Warning: action.Warning,
	}, nil
}
