package memory

import (
	"context"
	"sync"

	"metropolis.dev/metropolis/osbase/event"
)

// Value is an event.Value kept in memory. The zero value is ready to use and holds no value yet:
// watchers block until the first Set. A Value must not be copied after first use.
type Value[T any] struct {
	mu sync.Mutex
	// val is the latest value; meaningful only when generation > 0.
	val T
	// generation counts Sets. Watchers remember the generation they last returned, which is how
	// they know whether there is something new without keeping a queue per watcher.
	generation uint64
	// changed is closed by the next Set to wake every waiting watcher at once. It is created
	// lazily by the first watcher that has to wait, so that Set stays allocation-free when
	// nobody waits and the zero Value is usable.
	changed chan struct{}
}

var _ event.Value[int] = (*Value[int])(nil)

// Set stores val as the latest value and wakes all watchers. It holds the lock only for a few
// assignments and never waits for watchers.
func (v *Value[T]) Set(val T) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.val = val
	v.generation++
	if v.changed != nil {
		close(v.changed)
		v.changed = nil
	}
}

// Watch returns a watcher whose first Get returns the current value if one was set.
func (v *Value[T]) Watch() event.Watcher[T] {
	return &watcher[T]{value: v, closed: make(chan struct{})}
}

// watcher holds one consumer's position in a Value.
type watcher[T any] struct {
	value *Value[T]
	// seen is the generation this watcher last returned or skipped; 0 means none. Guarded by
	// value.mu, so a misuse of concurrent Gets is a logic error but not a data race.
	seen      uint64
	closeOnce sync.Once
	closed    chan struct{}
}

func (w *watcher[T]) Get(ctx context.Context, opts ...event.GetOption[T]) (T, error) {
	options := event.ResolveGetOptions(opts)
	var zero T
	for {
		// Cancellation and closing take precedence over a ready value, so that a caller that
		// has given up never gets a value it would then have to ignore.
		select {
		case <-w.closed:
			return zero, event.ErrWatcherClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			return zero, err
		}

		val, fresh, changed := w.next()
		if fresh {
			// The predicate runs outside the lock: it is caller code and may be slow.
			if options.Accepts(val) {
				return val, nil
			}
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-w.closed:
			return zero, event.ErrWatcherClosed
		}
	}
}

// next returns the latest value if this watcher has not seen it yet, marking it seen. Otherwise
// it returns the channel that the next Set will close.
func (w *watcher[T]) next() (val T, fresh bool, changed <-chan struct{}) {
	v := w.value
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.generation != w.seen {
		w.seen = v.generation
		return v.val, true, nil
	}
	if v.changed == nil {
		v.changed = make(chan struct{})
	}
	return val, false, v.changed
}

func (w *watcher[T]) Close() {
	w.closeOnce.Do(func() { close(w.closed) })
}
