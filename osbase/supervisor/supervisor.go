package supervisor

import (
	"context"
	"sync"

	"metropolis.dev/metropolis/osbase/logtree"
)

// Runnable is the body of a supervised service. ctx is live for as long as
// the runnable should run and is cancelled when it must stop: the runnable
// then returns promptly (its return value is ignored). Returning while ctx is
// live means the runnable failed, whatever it returns, unless it called
// Signal(ctx, SignalDone) first and returns nil. ctx also identifies the
// runnable to Run, RunGroup, Signal, Logger and RawLogger.
type Runnable func(ctx context.Context) error

// RootName is the name, and DN, of the runnable passed to New.
const RootName = "root"

// Supervisor runs a tree of runnables. Create it with New; it runs until the
// context given to New is cancelled and everything in it has exited.
type Supervisor struct {
	ctx            context.Context
	lt             *logtree.LogTree
	backoff        Backoff
	propagatePanic bool

	// mu guards the tree: every node's fields and every group's.
	mu       sync.Mutex
	root     *node
	finished chan struct{}
	// isFinished records that finished was closed.
	isFinished bool
}

// Option configures New.
type Option func(*Supervisor)

// WithExistingLogtree makes the supervisor log into lt (under DNs starting
// with "root") instead of a LogTree of its own.
func WithExistingLogtree(lt *logtree.LogTree) Option {
	return func(s *Supervisor) { s.lt = lt }
}

// WithBackoff replaces DefaultBackoff; tests use it to restart quickly.
// Zero fields take their value from DefaultBackoff.
func WithBackoff(b Backoff) Option {
	return func(s *Supervisor) { s.backoff = b.withDefaults() }
}

// WithPropagatePanic lets a runnable's panic crash the program instead of
// being turned into a failure. It is a test helper: a test that expects no
// panic gets the original stack trace from the Go runtime.
func WithPropagatePanic() Option {
	return func(s *Supervisor) { s.propagatePanic = true }
}

// New starts root under the name "root" and returns at once. Cancelling ctx
// stops the whole tree; Done reports when it has exited.
func New(ctx context.Context, root Runnable, opts ...Option) *Supervisor {
	s := &Supervisor{
		ctx:      ctx,
		backoff:  DefaultBackoff(),
		finished: make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	if s.lt == nil {
		s.lt = logtree.New()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.root = s.newNode(nil, RootName, root)
	s.root.group = &group{parentCtx: ctx, members: []*node{s.root}}
	s.start(s.root)

	// Cancellation needs a look even if nothing exits afterwards, as when
	// the root is waiting out a backoff.
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.checkFinished()
	}()
	return s
}

// LogTree returns the tree the supervisor logs into.
func (s *Supervisor) LogTree() *logtree.LogTree { return s.lt }

// Done is closed once the context given to New is cancelled and every
// runnable in the tree has returned.
func (s *Supervisor) Done() <-chan struct{} { return s.finished }

// checkFinished closes finished when the tree has stopped for good. s.mu
// must be held.
func (s *Supervisor) checkFinished() {
	if !s.isFinished && s.ctx.Err() != nil && s.root.subtreeStopped() {
		s.isFinished = true
		close(s.finished)
	}
}
