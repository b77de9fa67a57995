package memory

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"metropolis.dev/metropolis/osbase/event"
)

// generous bounds a test that would otherwise hang on a bug; passing tests finish long before.
const generous = 10 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), generous)
	t.Cleanup(cancel)
	return ctx
}

func mustGet[T any](t *testing.T, w event.Watcher[T], opts ...event.GetOption[T]) T {
	t.Helper()
	v, err := w.Get(testContext(t), opts...)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return v
}

func TestGetReturnsWhatTheWatcherHasNotSeen(t *testing.T) {
	cases := []struct {
		name      string
		setBefore []int // values set before Watch
		setAfter  []int // values set after Watch, before Get
		want      int
	}{
		{"value set before Watch is returned at once", []int{7}, nil, 7},
		{"only the latest of several earlier values is returned", []int{1, 2, 3}, nil, 3},
		{"a value set after Watch is returned", nil, []int{4}, 4},
		{"a newer value set after Watch supersedes the earlier one", []int{1}, []int{5, 6}, 6},
		{"the zero value of T is a real value once set", []int{0}, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v Value[int]
			for _, x := range c.setBefore {
				v.Set(x)
			}
			w := v.Watch()
			defer w.Close()
			for _, x := range c.setAfter {
				v.Set(x)
			}
			if got := mustGet(t, w); got != c.want {
				t.Errorf("Get = %d, want %d", got, c.want)
			}
		})
	}
}

func TestGetBlocksUntilSomethingNewIsSet(t *testing.T) {
	var v Value[string]
	w := v.Watch()
	defer w.Close()

	got := make(chan string)
	go func() {
		s, err := w.Get(testContext(t))
		if err != nil {
			s = "error: " + err.Error()
		}
		got <- s
	}()
	v.Set("up")
	if s := <-got; s != "up" {
		t.Fatalf("first Get = %q, want %q", s, "up")
	}

	// The watcher has seen "up"; a second Get must wait for the next Set, even if that Set
	// stores an equal value (values are not compared, every Set is news).
	go func() {
		s, err := w.Get(testContext(t))
		if err != nil {
			s = "error: " + err.Error()
		}
		got <- s
	}()
	v.Set("up")
	if s := <-got; s != "up" {
		t.Fatalf("second Get = %q, want %q", s, "up")
	}
}

func TestGetDoesNotReturnTheSameSetTwice(t *testing.T) {
	var v Value[int]
	v.Set(1)
	w := v.Watch()
	defer w.Close()
	mustGet(t, w)

	// Nothing new was set, so Get can only end through its context. The outcome does not depend
	// on timing: no Set happens, so no value can ever be returned.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := w.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with nothing new = %v, want context.DeadlineExceeded", err)
	}
}

func TestSlowWatcherDoesNotBlockSet(t *testing.T) {
	var v Value[int]
	stalled := v.Watch() // never read until the end
	defer stalled.Close()

	const sets = 100_000
	done := make(chan struct{})
	go func() {
		for i := 1; i <= sets; i++ {
			v.Set(i)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(generous):
		t.Fatalf("%d Sets did not finish within %v while a watcher was not reading", sets, generous)
	}
	if got := mustGet(t, stalled); got != sets {
		t.Errorf("stalled watcher's Get = %d, want the latest value %d", got, sets)
	}
}

func TestManyWatchersEachSeeIncreasingValuesEndingWithTheLast(t *testing.T) {
	const watchers, last = 50, 2000
	var v Value[int]
	var wg sync.WaitGroup
	errs := make(chan error, watchers)
	for range watchers {
		w := v.Watch()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Close()
			prev := 0
			for prev != last {
				got, err := w.Get(testContext(t))
				if err != nil {
					errs <- err
					return
				}
				if got <= prev {
					errs <- errors.New("watcher went backwards or repeated a value")
					return
				}
				prev = got
			}
		}()
	}
	for i := 1; i <= last; i++ {
		v.Set(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
