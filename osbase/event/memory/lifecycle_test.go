package memory

import (
	"context"
	"errors"
	"testing"

	"metropolis.dev/metropolis/osbase/event"
)

func TestGetEndsWithContextError(t *testing.T) {
	t.Run("already cancelled context wins over a ready value", func(t *testing.T) {
		var v Value[int]
		v.Set(1)
		w := v.Watch()
		defer w.Close()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := w.Get(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Get = %v, want context.Canceled", err)
		}
		// The value was not consumed by the cancelled Get.
		if got := mustGet(t, w); got != 1 {
			t.Errorf("Get after cancelled Get = %d, want 1", got)
		}
	})

	t.Run("cancelling a blocked Get unblocks it", func(t *testing.T) {
		var v Value[int]
		w := v.Watch()
		defer w.Close()
		ctx, cancel := context.WithCancel(t.Context())
		result := make(chan error)
		go func() {
			_, err := w.Get(ctx)
			result <- err
		}()
		cancel()
		if err := <-result; !errors.Is(err, context.Canceled) {
			t.Fatalf("Get = %v, want context.Canceled", err)
		}
	})
}

func TestCloseEndsGet(t *testing.T) {
	t.Run("Close unblocks a pending Get", func(t *testing.T) {
		var v Value[int]
		w := v.Watch()
		result := make(chan error)
		go func() {
			_, err := w.Get(testContext(t))
			result <- err
		}()
		w.Close()
		if err := <-result; !errors.Is(err, event.ErrWatcherClosed) {
			t.Fatalf("Get = %v, want ErrWatcherClosed", err)
		}
	})

	t.Run("Get after Close fails even with a value ready, and Close is idempotent", func(t *testing.T) {
		var v Value[int]
		v.Set(1)
		w := v.Watch()
		w.Close()
		w.Close()
		if _, err := w.Get(testContext(t)); !errors.Is(err, event.ErrWatcherClosed) {
			t.Fatalf("Get = %v, want ErrWatcherClosed", err)
		}
	})

	t.Run("closing one watcher leaves others working", func(t *testing.T) {
		var v Value[int]
		closed, open := v.Watch(), v.Watch()
		defer open.Close()
		closed.Close()
		v.Set(3)
		if got := mustGet(t, open); got != 3 {
			t.Errorf("open watcher's Get = %d, want 3", got)
		}
	})
}
