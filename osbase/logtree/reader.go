package logtree

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// BacklogAll, passed to WithBacklog, returns every stored entry.
const BacklogAll = -1

// DefaultStreamBuffer is how many entries a stream holds for a reader that is
// momentarily busy before it starts missing entries.
const DefaultStreamBuffer = 1024

// ReadOption selects what Read returns.
type ReadOption func(*readConfig)

type readConfig struct {
	children     bool
	backlog      int
	stream       bool
	streamBuffer int
	filter       filter
}

// filter decides which entries a reader sees.
type filter struct {
	minSeverity Severity
	onlyRaw     bool
	onlyLeveled bool
}

func (f filter) matches(e *LogEntry) bool {
	if e.Raw != nil {
		return !f.onlyLeveled
	}
	return !f.onlyRaw && e.Leveled.severity.AtLeast(f.minSeverity)
}

// WithChildren includes the whole subtree below the DN, merged in the order
// the entries were written.
func WithChildren() ReadOption { return func(c *readConfig) { c.children = true } }

// WithBacklog returns up to n stored entries (the newest ones), or all of
// them for BacklogAll. Without it, Read returns no backlog.
func WithBacklog(n int) ReadOption { return func(c *readConfig) { c.backlog = n } }

// WithStream delivers entries written after Read on LogReader.Stream, with no
// gap or overlap with the backlog.
func WithStream() ReadOption { return func(c *readConfig) { c.stream = true } }

// WithStreamBuffer sets the stream's buffer (default DefaultStreamBuffer).
func WithStreamBuffer(n int) ReadOption { return func(c *readConfig) { c.streamBuffer = n } }

// LeveledWithMinimumSeverity drops leveled entries below sev. Raw entries
// have no severity and still pass; add OnlyLeveled to drop them too.
func LeveledWithMinimumSeverity(sev Severity) ReadOption {
	return func(c *readConfig) { c.filter.minSeverity = sev }
}

// OnlyRaw returns only raw entries.
func OnlyRaw() ReadOption { return func(c *readConfig) { c.filter.onlyRaw = true } }

// OnlyLeveled returns only leveled entries.
func OnlyLeveled() ReadOption { return func(c *readConfig) { c.filter.onlyLeveled = true } }

// LogReader is the result of Read. Backlog is filled once, oldest first. If
// the read streams, Stream receives later entries until Close, after which it
// is closed; readers must call Close to stop the tree from feeding it.
type LogReader struct {
	Backlog []*LogEntry
	// Stream is nil unless WithStream was given.
	Stream <-chan *LogEntry

	tree      *LogTree
	sub       *subscriber
	closeOnce sync.Once
}

// subscriber is the tree's side of a stream.
type subscriber struct {
	ch       chan *LogEntry
	node     *node
	children bool
	filter   filter
	missed   atomic.Uint64
}

// offer hands e to the reader if it has room; otherwise the reader misses
// it. Logging must never wait for a reader.
func (s *subscriber) offer(e *LogEntry) {
	select {
	case s.ch <- e:
	default:
		s.missed.Add(1)
	}
}

// Read returns entries of dn (and its subtree, WithChildren). Reading a DN
// that has never been written to is fine: it yields an empty backlog and a
// stream that starts delivering once something writes there.
func (t *LogTree) Read(dn DN, opts ...ReadOption) (*LogReader, error) {
	cfg := readConfig{streamBuffer: DefaultStreamBuffer}
	for _, o := range opts {
		o(&cfg)
	}
	if err := dn.Validate(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if cfg.filter.onlyRaw && cfg.filter.onlyLeveled {
		return nil, errors.New("read: OnlyRaw and OnlyLeveled exclude each other")
	}
	if cfg.backlog < BacklogAll {
		return nil, fmt.Errorf("read: backlog %d: want a positive count or BacklogAll", cfg.backlog)
	}
	if cfg.streamBuffer < 1 {
		return nil, fmt.Errorf("read: stream buffer %d: want at least 1", cfg.streamBuffer)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.nodeFor(dn)
	r := &LogReader{tree: t}
	if cfg.backlog != 0 {
		r.Backlog = t.backlog(n, cfg)
	}
	if cfg.stream {
		r.sub = &subscriber{ch: make(chan *LogEntry, cfg.streamBuffer), node: n, children: cfg.children, filter: cfg.filter}
		r.Stream = r.sub.ch
		n.readers = append(n.readers, r.sub)
	}
	return r, nil
}

// backlog collects matching entries, oldest first. t.mu must be held.
func (t *LogTree) backlog(n *node, cfg readConfig) []*LogEntry {
	var found []*LogEntry
	collect := func(m *node) {
		for e := m.oldest; e != nil; e = e.nextNode {
			if cfg.filter.matches(e) {
				found = append(found, e)
			}
		}
	}
	if cfg.children {
		var walk func(m *node)
		walk = func(m *node) {
			collect(m)
			for _, c := range m.children {
				walk(c)
			}
		}
		walk(n)
		slices.SortFunc(found, func(a, b *LogEntry) int { return cmp.Compare(a.seq, b.seq) })
	} else {
		collect(n)
	}
	if cfg.backlog != BacklogAll && len(found) > cfg.backlog {
		found = found[len(found)-cfg.backlog:]
	}
	return found
}

// Missed returns how many entries the stream dropped because the reader did
// not take them fast enough.
func (r *LogReader) Missed() uint64 {
	if r.sub == nil {
		return 0
	}
	return r.sub.missed.Load()
}

// Close detaches the stream from the tree and closes it. It is safe to call
// more than once, and for reads without a stream.
func (r *LogReader) Close() {
	r.closeOnce.Do(func() {
		if r.sub == nil {
			return
		}
		t := r.tree
		t.mu.Lock()
		defer t.mu.Unlock()
		t.detach(r.sub)
		close(r.sub.ch)
	})
}

// detach removes s from the node it is attached to. t.mu must be held.
func (t *LogTree) detach(s *subscriber) {
	n := s.node
	if i := slices.Index(n.readers, s); i >= 0 {
		n.readers = slices.Delete(n.readers, i, i+1)
	}
}
