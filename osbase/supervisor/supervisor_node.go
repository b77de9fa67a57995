package supervisor

import (
	"context"
	"io"
	"time"

	"metropolis.dev/metropolis/osbase/logtree"
)

// node is one runnable in the tree. It outlives the runnable's instances: a
// restart starts a new instance (new context, new generation) on the same
// node, which keeps the restart count and last error. All fields are guarded
// by Supervisor.mu.
type node struct {
	name     string
	dn       logtree.DN
	parent   *node
	runnable Runnable
	group    *group
	// children were started by the current instance. A restart forgets them:
	// by then they have exited, and the new instance starts its own.
	children map[string]*node
	logger   logtree.LeveledLogger
	raw      io.Writer

	// gen counts instances, so that a stale context (kept by a goroutine of
	// an instance that has returned) cannot act on its successor.
	gen    uint64
	ctx    context.Context
	cancel context.CancelFunc

	running      bool
	healthy      bool
	healthySince time.Time
	doneSignaled bool
	// done is set when the instance signalled done and returned nil.
	done     bool
	restarts int
	lastErr  error
}

// group is a set of siblings that live and die together: Run makes groups of
// one, RunGroup larger ones. When a member fails, every member is cancelled,
// and once all of them and all their descendants have exited, all members
// start again after a backoff.
type group struct {
	// parentCtx is the context of the parent instance that started the group
	// (or New's context, for the root). Once it is cancelled the group is
	// never restarted: the parent's own restart starts it afresh.
	parentCtx context.Context
	members   []*node
	// backoff is the delay before the last (or pending) restart.
	backoff time.Duration
	// restartPending is set from a member's failure until every member's
	// subtree has stopped and the restart has been scheduled.
	restartPending bool
}

func (s *Supervisor) newNode(parent *node, name string, r Runnable) *node {
	dn := logtree.DN(name)
	if parent != nil {
		dn = parent.dn + "." + logtree.DN(name)
	}
	return &node{
		name:     name,
		dn:       dn,
		parent:   parent,
		runnable: r,
		children: make(map[string]*node),
		logger:   s.lt.MustLeveledFor(dn),
	}
}

// subtreeStopped reports whether neither this node's instance nor any of its
// descendants is running. A done node may still have running children.
func (n *node) subtreeStopped() bool {
	if n.running {
		return false
	}
	for _, c := range n.children {
		if !c.subtreeStopped() {
			return false
		}
	}
	return true
}

func (g *group) stopped() bool {
	for _, m := range g.members {
		if !m.subtreeStopped() {
			return false
		}
	}
	return true
}
