package timesync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestDecideReferenceStart(t *testing.T) {
	for _, tc := range []struct {
		name            string
		peers, answered int
		usable          bool
		waited          time.Duration
		want            referenceStep
	}{
		{"a peer knows the time", 2, 1, true, 0, adoptPeer},
		{"no peers: the first node of a cluster", 0, 0, false, 0, serveOwn},
		{"every peer answered, none synchronised: the whole cluster starts", 2, 2, false, 0, serveOwn},
		{"a peer silent, the other unsynchronised", 2, 1, false, time.Minute, keepAsking},
		{"peers silent, patience left", 2, 0, false, referencePatience - time.Second, keepAsking},
		{"peers silent too long", 2, 0, false, referencePatience, serveOwn},
	} {
		if got := decideReferenceStart(tc.peers, tc.answered, tc.usable, tc.waited); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A node that becomes the reference 5 minutes off (its hardware clock after a restart) takes
// the cluster's time from a peer, a real responder over loopback, before it serves its own, and
// asks no one after.
func TestNewReferenceTakesThePeersTime(t *testing.T) {
	skew := 5 * time.Minute
	var served atomic.Int64
	served.Store(int64(skew))
	peer := serveSkewed(t, &served, func() Reference { return Reference{Stratum: 11, Time: time.Now()} })
	var asked atomic.Int32
	clk := &fakeClock{}
	s := New(Config{
		IsReference: func() bool { return true }, Peers: func() []string { return []string{peer} }, Clock: clk,
		Query: func(ctx context.Context, server string) (Sample, error) {
			asked.Add(1)
			return QueryNTP(ctx, server)
		},
	})
	st := s.Sync(context.Background(), &Status{})
	if len(clk.steps) != 1 || !near(clk.steps[0], skew) {
		t.Fatalf("steps %v, want one by %v", clk.steps, skew)
	}
	if !st.Reference || st.Checking || st.Server != peer || st.Stratum != 11 || !strings.Contains(st.Warning, "5m0") {
		t.Errorf("status %+v: want the reference, having stepped to %s at stratum 11, loudly", st, peer)
	}
	if got := ServedReference(st, time.Now()); got.Stratum != LocalStratum {
		t.Errorf("it serves at stratum %d, want its own clock's %d", got.Stratum, LocalStratum)
	}
	n := asked.Load()
	again := s.Sync(context.Background(), st)
	if asked.Load() != n || len(clk.steps)+len(clk.slews) != 1 || !again.Reference {
		t.Errorf("once the reference, it asked again (%d questions, %d more) or corrected again (steps %v, slews %v)", n, asked.Load()-n, clk.steps, clk.slews)
	}
}

// Peers that answer but are not synchronised themselves (the whole cluster starts) know no
// better: the new reference serves its own clock at once, untouched.
func TestNewReferenceAmongUnsynchronisedPeers(t *testing.T) {
	var served atomic.Int64
	served.Store(int64(time.Hour))
	unsynced := func() Reference { return Reference{Stratum: 16, Time: time.Now()} }
	peers := []string{serveSkewed(t, &served, unsynced), serveSkewed(t, &served, unsynced)}
	clk := &fakeClock{}
	s := New(Config{IsReference: func() bool { return true }, Peers: func() []string { return peers }, Clock: clk, Burst: 1})
	st := s.Sync(context.Background(), &Status{})
	if !st.Reference || st.Checking || st.Server != "" || len(clk.steps)+len(clk.slews) != 0 {
		t.Errorf("status %+v, steps %v, slews %v: want the reference serving its own clock, untouched", st, clk.steps, clk.slews)
	}
}

// Silent peers (down, or the network not up yet): the new reference serves no time while it
// waits for them, and its own clock after referencePatience. Time is a fake: nothing sleeps.
func TestNewReferenceWaitsForSilentPeers(t *testing.T) {
	fake := clocktesting.NewFakeClock(time.Unix(1700000000, 0))
	clk := &fakeClock{}
	s := New(Config{
		IsReference: func() bool { return true }, Peers: func() []string { return []string{"10.0.0.3:123"} },
		Clock: clk, Time: fake,
		Query: func(_ context.Context, server string) (Sample, error) {
			return Sample{}, fmt.Errorf("ask %s: %w", server, errors.New("i/o timeout"))
		},
	})
	st := s.Sync(context.Background(), &Status{})
	if !st.Checking || st.Reference || !strings.Contains(st.Error, "0 of 1 answered") {
		t.Fatalf("status %+v: want checking, saying none of its one peer answered", st)
	}
	if got := ServedReference(st, fake.Now()); got.Stratum != 16 {
		t.Errorf("while checking it serves at stratum %d, want 16 (unsynchronised)", got.Stratum)
	}
	fake.Step(referencePatience - time.Second)
	if st = s.Sync(context.Background(), st); !st.Checking {
		t.Fatalf("status %+v before referencePatience: want still checking", st)
	}
	fake.Step(time.Second)
	if st = s.Sync(context.Background(), st); !st.Reference || st.Checking || len(clk.steps)+len(clk.slews) != 0 {
		t.Errorf("status %+v after referencePatience: want the reference serving its own clock, untouched", st)
	}
}
