package timesync

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"metropolis.dev/metropolis/osbase/supervisor"
)

// fakeClock records what the service asks of the machine's clock.
type fakeClock struct {
	mu     sync.Mutex
	steps  []time.Duration
	slews  []time.Duration
	failed error
}

func (c *fakeClock) Step(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.steps = append(c.steps, d)
	return c.failed
}

func (c *fakeClock) Slew(d, _, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slews = append(c.slews, d)
	return c.failed
}

func near(d, want time.Duration) bool { return (d - want).Abs() < 50*time.Millisecond }

// TestSyncStepsThenSlews asks a real NTP responder over loopback, with the upstream client:
// a clock 5 minutes behind is stepped at the first sync, loudly; a later small offset is slewed.
func TestSyncStepsThenSlews(t *testing.T) {
	skew := 5 * time.Minute
	var served atomic.Int64
	served.Store(int64(skew))
	addr := serveSkewed(t, &served, nil)
	clk := &fakeClock{}
	s := New(Config{Servers: func() []string { return []string{addr} }, Clock: clk})
	st := s.Sync(context.Background(), &Status{})
	if len(clk.steps) != 1 || !near(clk.steps[0], skew) || len(clk.slews) != 0 {
		t.Fatalf("steps %v, slews %v; want one step by %v", clk.steps, clk.slews, skew)
	}
	if !st.Synced || st.Adjust != Step || st.Server != addr || st.Stratum != LocalStratum || !strings.Contains(st.Warning, "5m0") {
		t.Errorf("status %+v: want synced by a step from %s at stratum %d, with a warning naming 5m0s", st, addr, LocalStratum)
	}

	skew = 120 * time.Millisecond
	served.Store(int64(skew))
	st = s.Sync(context.Background(), st)
	if len(clk.steps) != 1 || len(clk.slews) != 1 || !near(clk.slews[0], skew) {
		t.Fatalf("steps %v, slews %v; want the second sync to slew by %v", clk.steps, clk.slews, skew)
	}
	if st.Adjust != Slew || st.Warning != "" || !near(st.Offset, skew) {
		t.Errorf("status %+v: want a slew of %v without a warning", st, skew)
	}
}

// TestSyncFailures: no server, a server that does not answer, a clock that cannot be set:
// the status says why and keeps what it knew; the clock is not touched without an answer.
func TestSyncFailures(t *testing.T) {
	silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var skew atomic.Int64
	answering := serveSkewed(t, &skew, nil)
	earlier := &Status{Synced: true, Server: "earlier:123", LastSync: time.Unix(1700000000, 0)}
	for _, tc := range []struct {
		name    string
		servers []string
		clock   error
		want    string
	}{
		{"no server", nil, nil, "no NTP server known"},
		{"a silent server", []string{silent.LocalAddr().String()}, nil, "ask " + silent.LocalAddr().String()},
		{"the clock refuses", []string{answering}, errors.New("operation not permitted"), "operation not permitted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{failed: tc.clock}
			s := New(Config{Servers: func() []string { return tc.servers }, Clock: clk, Burst: 1})
			st := s.Sync(context.Background(), earlier)
			if !strings.Contains(st.Error, tc.want) {
				t.Errorf("error %q, want it to contain %q", st.Error, tc.want)
			}
			if !st.Synced || st.Server != "earlier:123" {
				t.Errorf("status %+v lost what it knew before", st)
			}
			if tc.clock == nil && len(clk.steps)+len(clk.slews) != 0 {
				t.Errorf("the clock was adjusted (steps %v, slews %v) without an answer", clk.steps, clk.slews)
			}
		})
	}
}

// TestSyncTrustsTheLeastDelayedAnswer: of a burst, the answer with the shortest round trip
// counts (the others were delayed on the way, which skews their offsets).
func TestSyncTrustsTheLeastDelayedAnswer(t *testing.T) {
	answers := []Sample{
		{Offset: 300 * time.Millisecond, RTT: 400 * time.Millisecond},
		{Offset: 20 * time.Millisecond, RTT: 2 * time.Millisecond},
		{Offset: -150 * time.Millisecond, RTT: 250 * time.Millisecond},
	}
	i := 0
	clk := &fakeClock{}
	s := New(Config{
		Servers: func() []string { return []string{"a"} }, Clock: clk, Burst: len(answers),
		Query: func(_ context.Context, server string) (Sample, error) {
			a := answers[i]
			a.Server, i = server, i+1
			return a, nil
		},
	})
	s.Sync(context.Background(), &Status{Synced: true})
	if len(clk.slews) != 1 || clk.slews[0] != 20*time.Millisecond {
		t.Errorf("slews %v, want one of 20ms (the answer with a 2ms round trip)", clk.slews)
	}
}

// TestRunRetriesSoonThenPolls: unsynchronised, the service asks again after retryUnsynced;
// synchronised, after Poll. Time is a fake: nothing sleeps.
func TestRunRetriesSoonThenPolls(t *testing.T) {
	fake := clocktesting.NewFakeClock(time.Unix(1700000000, 0))
	var mu sync.Mutex
	servers, queries := []string(nil), 0
	s := New(Config{
		Servers: func() []string { mu.Lock(); defer mu.Unlock(); return servers },
		Clock:   &fakeClock{}, Time: fake, Poll: time.Minute, Burst: 1,
		Query: func(context.Context, string) (Sample, error) {
			mu.Lock()
			defer mu.Unlock()
			queries++
			return Sample{Server: "a", Offset: time.Millisecond}, nil
		},
	})
	w := s.Watch()
	defer w.Close()
	cancel, _ := supervisor.TestHarness(t, s.Run)
	defer cancel()
	ctx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	next := func(step time.Duration) *Status {
		t.Helper()
		for !fake.HasWaiters() {
			time.Sleep(time.Millisecond)
		}
		fake.Step(step)
		st, err := w.Get(ctx)
		if err != nil {
			t.Fatalf("waiting for the status after %v: %v", step, err)
		}
		return st
	}
	if st, err := w.Get(ctx); err != nil || st.Error != "no NTP server known" {
		t.Fatalf("first status %+v (%v), want no server known", st, err)
	}
	mu.Lock()
	servers = []string{"a"}
	mu.Unlock()
	if st := next(retryUnsynced); !st.Synced {
		t.Fatalf("after retryUnsynced: %+v, want synced", st)
	}
	// Synchronised: nothing until a whole Poll has passed.
	for !fake.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	fake.Step(retryUnsynced)
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	if queries != 1 {
		t.Errorf("%d queries %v after synchronising, want none before the poll interval", queries-1, retryUnsynced)
	}
	mu.Unlock()
	fake.Step(time.Minute - retryUnsynced)
	if _, err := w.Get(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if queries != 2 {
		t.Errorf("%d queries after one poll interval, want 2", queries)
	}
}
