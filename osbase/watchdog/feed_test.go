package watchdog

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

func TestPingInterval(t *testing.T) {
	for _, tc := range []struct {
		timeout, want time.Duration
	}{
		{60 * time.Second, 15 * time.Second},
		{30 * time.Second, 7500 * time.Millisecond},
		{4 * time.Second, time.Second},
		{2 * time.Second, time.Second},
		{0, time.Second},
		{-time.Second, time.Second},
	} {
		if got := PingInterval(tc.timeout); got != tc.want {
			t.Errorf("PingInterval(%v) = %v, want %v", tc.timeout, got, tc.want)
		}
	}
}

// fakeTicker hands Feed a channel the test fires by hand, and records what Feed asked for.
type fakeTicker struct {
	c         chan time.Time
	intervals []time.Duration
}

func (f *fakeTicker) tick(d time.Duration) <-chan time.Time {
	f.intervals = append(f.intervals, d)
	return f.c
}

func TestFeed(t *testing.T) {
	w, path := openPlain(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ft := &fakeTicker{c: make(chan time.Time)}
	done := make(chan error)
	go func() { done <- Feed(ctx, w, 5*time.Second, ft.tick) }()
	// Each send returns once Feed has taken the tick; it then pings before waiting again.
	for range 3 {
		ft.c <- time.Time{}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Feed = %v, want context.Canceled", err)
	}
	// One ping right away, one per tick.
	if got := content(t, path); got != "kkkk" {
		t.Errorf("written %q, want %q", got, "kkkk")
	}
	if len(ft.intervals) != 4 {
		t.Errorf("tick called %d times, want 4", len(ft.intervals))
	}
	for _, d := range ft.intervals {
		if d != 5*time.Second {
			t.Errorf("tick(%v), want tick(5s)", d)
		}
	}
}

func TestFeedPingError(t *testing.T) {
	_, path := openPlain(t)
	f, err := os.Open(path) // read-only: pings fail
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tick := func(time.Duration) <-chan time.Time {
		t.Error("tick called after a failed ping")
		return nil
	}
	if err := Feed(context.Background(), FromFile(f), time.Second, tick); err == nil {
		t.Error("Feed with failing pings returned nil")
	}
}

func TestFeedBadInterval(t *testing.T) {
	w, path := openPlain(t)
	if err := Feed(context.Background(), w, 0, time.After); err == nil {
		t.Error("Feed with interval 0 returned nil")
	}
	if got := content(t, path); got != "" {
		t.Errorf("written %q, want nothing", got)
	}
}
