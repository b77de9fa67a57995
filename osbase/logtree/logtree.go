package logtree

import (
	"fmt"
	"sync"
)

// Defaults for New. A node keeps enough history to show what led up to a
// failure; the global bound keeps a node with hundreds of chatty sources
// (every Kubernetes pod's runnable, say) within tens of megabytes.
const (
	DefaultNodeCapacity   = 1024
	DefaultGlobalCapacity = 128 * 1024
)

// LogTree holds the logs of every source on a node, keyed by DN. It is safe
// for concurrent use. Writers never block on readers: a reader that does not
// keep up loses entries (counted in LogReader.Missed), never the writer's time.
type LogTree struct {
	nodeCapacity   int
	globalCapacity int

	mu   sync.Mutex
	root *node
	// journal links every stored entry in write order, across nodes, so the
	// global bound can evict the oldest entry of the whole tree in O(1).
	journal journal
	// explicitVerbosity holds the levels set by SetVerbosity; each node caches
	// the effective level (its own or the nearest ancestor's) for V().
	explicitVerbosity map[DN]VerbosityLevel
}

// Option configures a LogTree in New.
type Option func(*LogTree)

// WithNodeCapacity sets how many entries each DN keeps (default
// DefaultNodeCapacity). Values below 1 are treated as 1.
func WithNodeCapacity(n int) Option {
	return func(t *LogTree) { t.nodeCapacity = max(n, 1) }
}

// WithGlobalCapacity sets how many entries the whole tree keeps (default
// DefaultGlobalCapacity); past it, the oldest entry of any DN is dropped.
// Values below 1 are treated as 1.
func WithGlobalCapacity(n int) Option {
	return func(t *LogTree) { t.globalCapacity = max(n, 1) }
}

// New returns an empty LogTree.
func New(opts ...Option) *LogTree {
	t := &LogTree{
		nodeCapacity:      DefaultNodeCapacity,
		globalCapacity:    DefaultGlobalCapacity,
		root:              newNode("", nil),
		explicitVerbosity: make(map[DN]VerbosityLevel),
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

// nodeFor returns the node for dn, creating it and any missing ancestors.
// dn must be valid and t.mu held.
func (t *LogTree) nodeFor(dn DN) *node {
	n := t.root
	for _, part := range dn.Parts() {
		child, ok := n.children[part]
		if !ok {
			childDN, _ := n.dn.Child(part)
			child = newNode(childDN, n)
			if v, ok := t.explicitVerbosity[childDN]; ok {
				child.verbosity.Store(int32(v))
			}
			n.children[part] = child
		}
		n = child
	}
	return n
}

// lookup validates dn and returns its node, creating it if needed.
func (t *LogTree) lookup(dn DN) (*node, error) {
	if err := dn.Validate(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nodeFor(dn), nil
}

// append stores e under n, evicts what the bounds require and hands e to
// every matching stream reader without waiting for any of them.
func (t *LogTree) append(n *node, e *LogEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.journal.push(n, e)
	if n.count > t.nodeCapacity {
		t.journal.remove(n.oldest)
	}
	if t.journal.count > t.globalCapacity {
		t.journal.remove(t.journal.oldest)
	}
	for m := n; m != nil; m = m.parent {
		for _, r := range m.readers {
			if (m == n || r.children) && r.filter.matches(e) {
				r.offer(e)
			}
		}
	}
}

// DNs returns every DN that has been logged to or read from, in no
// particular order. The root DN is not included.
func (t *LogTree) DNs() []DN {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []DN
	var walk func(n *node)
	walk = func(n *node) {
		if n.dn != "" {
			out = append(out, n.dn)
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(t.root)
	return out
}

// String is for debugging: how much the tree holds.
func (t *LogTree) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Sprintf("LogTree(%d entries)", t.journal.count)
}
