package supervisor

import (
	"slices"
	"strings"
	"time"

	"metropolis.dev/metropolis/osbase/logtree"
)

// State is where a runnable is in its life.
type State int

const (
	// StateNew: running, not yet signalled healthy.
	StateNew State = iota + 1
	// StateHealthy: running and signalled healthy.
	StateHealthy
	// StateDone: signalled done (and, once returned, returned nil).
	StateDone
	// StateDead: returned without being done: failed (and waiting to be
	// restarted), or stopped along with its parent or group.
	StateDead
	// StateCanceling: asked to stop, not yet returned.
	StateCanceling
)

func (s State) String() string {
	switch s {
	case StateNew:
		return "new"
	case StateHealthy:
		return "healthy"
	case StateDone:
		return "done"
	case StateDead:
		return "dead"
	case StateCanceling:
		return "canceling"
	}
	return "unknown"
}

// NodeState describes one runnable for status APIs and tests.
type NodeState struct {
	DN    logtree.DN
	State State
	// Restarts counts how often the runnable was started again after its
	// group failed.
	Restarts int
	// LastError is what made the runnable fail most recently, or nil.
	LastError error
	// Backoff is the delay before its group's last (or pending) restart.
	Backoff time.Duration
}

func (n *node) state() State {
	switch {
	case n.running && n.ctx.Err() != nil:
		return StateCanceling
	case n.done || (n.running && n.doneSignaled):
		return StateDone
	case n.running && n.healthy:
		return StateHealthy
	case n.running:
		return StateNew
	}
	return StateDead
}

// States returns every runnable in the tree, sorted by DN.
func (s *Supervisor) States() []NodeState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []NodeState
	var walk func(n *node)
	walk = func(n *node) {
		out = append(out, NodeState{DN: n.dn, State: n.state(), Restarts: n.restarts, LastError: n.lastErr, Backoff: n.group.backoff})
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(s.root)
	slices.SortFunc(out, func(a, b NodeState) int { return strings.Compare(string(a.DN), string(b.DN)) })
	return out
}

// StateOf returns the state of the runnable at dn, if it exists.
func (s *Supervisor) StateOf(dn logtree.DN) (NodeState, bool) {
	for _, st := range s.States() {
		if st.DN == dn {
			return st, true
		}
	}
	return NodeState{}, false
}
