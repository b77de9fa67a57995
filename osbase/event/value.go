package event

import (
	"context"
	"errors"
)

// ErrWatcherClosed is returned by Watcher.Get once the watcher has been closed, including to a
// Get that was blocked when Close was called.
var ErrWatcherClosed = errors.New("event: watcher closed")

// Value is a piece of state that can be set by a producer and watched by consumers.
//
// Implementations must keep Set cheap and non-blocking regardless of how many watchers exist or
// how slowly they read: a producer is usually a service's main loop, and a stuck consumer must
// not stall it.
//
// Values are handed to watchers as they were given to Set, without copying. A producer that sets
// a pointer, slice or map must therefore treat it as immutable from then on, and consumers must
// not modify what they receive.
type Value[T any] interface {
	// Set replaces the current value and wakes all watchers. It never blocks on watchers.
	Set(val T)
	// Watch returns a new watcher positioned before the current value: its first Get returns
	// the current value immediately if one was ever set.
	Watch() Watcher[T]
}

// Watcher follows one Value for one consumer.
type Watcher[T any] interface {
	// Get blocks until the value holds something this watcher has not returned yet and returns
	// the latest such value; values set in between are skipped. With Filter options, values
	// that do not satisfy every filter are skipped too and Get keeps waiting.
	//
	// Get returns ctx.Err() once ctx is done (even if a value is ready) and ErrWatcherClosed
	// once the watcher is closed. Get must not be called concurrently on the same watcher: a
	// watcher tracks one consumer's progress, so each goroutine should Watch for itself.
	Get(ctx context.Context, opts ...GetOption[T]) (T, error)
	// Close releases the watcher and unblocks a pending Get. It is safe to call from any
	// goroutine, and more than once.
	Close()
}

// Get is a one-shot helper: it watches v, returns the first value accepted by opts, and closes
// the watcher. It suits "wait until X" call sites that do not follow the value afterwards.
func Get[T any](ctx context.Context, v Value[T], opts ...GetOption[T]) (T, error) {
	w := v.Watch()
	defer w.Close()
	return w.Get(ctx, opts...)
}
