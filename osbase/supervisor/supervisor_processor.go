package supervisor

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// ctxKey keys the instance in a runnable's context.
type ctxKey struct{}

// instance is what a runnable's context carries: which node, and which of
// its instances.
type instance struct {
	s   *Supervisor
	n   *node
	gen uint64
}

// start launches a new instance of n under its group's parent context.
// s.mu must be held.
func (s *Supervisor) start(n *node) {
	n.gen++
	ctx, cancel := context.WithCancel(n.group.parentCtx)
	ctx = context.WithValue(ctx, ctxKey{}, &instance{s: s, n: n, gen: n.gen})
	n.ctx, n.cancel = ctx, cancel
	n.children = make(map[string]*node)
	n.running, n.healthy, n.doneSignaled, n.done = true, false, false, false
	go s.run(n, ctx, n.gen, n.runnable)
}

// run executes one instance and reports how it ended. A panic is caught and
// becomes a failure with its stack trace in the runnable's log.
func (s *Supervisor) run(n *node, ctx context.Context, gen uint64, r Runnable) {
	var err error
	func() {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if s.propagatePanic {
				panic(p)
			}
			err = fmt.Errorf("panic: %v", p)
			n.logger.Errorf("panic: %v\n%s", p, debug.Stack())
		}()
		err = r(ctx)
	}()
	s.exited(n, gen, err)
}

// exited classifies how an instance ended: stopped on request, done, or
// failed. Only a failure starts a restart; a stop is someone else's restart
// (a failed sibling's or ancestor's) or the supervisor shutting down.
func (s *Supervisor) exited(n *node, gen uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n.gen != gen {
		// Cannot happen: an instance is only replaced after it exited.
		panic(fmt.Sprintf("supervisor: instance %d of %s exited, but %d is current", gen, n.dn, n.gen))
	}
	n.running = false
	switch {
	case n.ctx.Err() != nil:
		// Stopped on request; whatever it returned is not a failure.
	case err == nil && n.doneSignaled:
		n.done = true
	default:
		if err == nil {
			err = errors.New("returned nil without signalling done")
		}
		s.fail(n, err)
	}
	s.reconcile(n)
}

// fail records n's failure, works out the group's next backoff and cancels
// every member of the group, which in turn cancels their descendants.
func (s *Supervisor) fail(n *node, err error) {
	n.lastErr = err
	g := n.group
	var healthyFor time.Duration
	if n.healthy {
		healthyFor = time.Since(n.healthySince)
	}
	g.backoff = s.backoff.Next(g.backoff, healthyFor)
	g.restartPending = true
	n.logger.Errorf("runnable failed: %v; restart #%d follows %v after its subtree has stopped", err, n.restarts+1, g.backoff)
	for _, m := range g.members {
		if m != n {
			m.logger.Warningf("stopping: group member %s failed, the whole group restarts", n.name)
		}
		m.cancel()
	}
}

// reconcile is called after n exited. Walking up from n, any group that was
// waiting for its subtrees to stop, and now has, gets its restart scheduled.
// s.mu must be held.
func (s *Supervisor) reconcile(n *node) {
	for m := n; m != nil; m = m.parent {
		g := m.group
		if g.restartPending && g.stopped() {
			g.restartPending = false
			s.scheduleRestart(g)
		}
	}
	s.checkFinished()
}

func (s *Supervisor) scheduleRestart(g *group) {
	time.AfterFunc(g.backoff, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.restart(g)
	})
}

// restart starts every member of g again, unless the parent instance that
// owns the group has been cancelled in the meantime. s.mu must be held.
func (s *Supervisor) restart(g *group) {
	if g.parentCtx.Err() != nil {
		return
	}
	for _, m := range g.members {
		m.restarts++
		m.logger.Infof("restarting (restart #%d, after %v backoff)", m.restarts, g.backoff)
		s.start(m)
	}
}
