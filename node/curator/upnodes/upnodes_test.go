package upnodes

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"

	cpb "metropolis.dev/metropolis/api/curator/v1"
)

// fakeCurator answers Watch with a stream of the events given, then blocks until the call's
// context ends, or ends with end if set. A unit-test stand-in for the curator's stream.
type fakeCurator struct {
	cpb.CuratorClient
	events []*cpb.WatchEvent
	end    error
}

func (f *fakeCurator) Watch(ctx context.Context, _ *cpb.WatchRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[cpb.WatchEvent], error) {
	return &fakeStream{ctx: ctx, events: f.events, end: f.end}, nil
}

type fakeStream struct {
	grpc.ServerStreamingClient[cpb.WatchEvent]
	ctx    context.Context
	events []*cpb.WatchEvent
	end    error
}

func (s *fakeStream) Recv() (*cpb.WatchEvent, error) {
	if len(s.events) > 0 {
		ev := s.events[0]
		s.events = s.events[1:]
		return ev, nil
	}
	if s.end != nil {
		return nil, s.end
	}
	<-s.ctx.Done()
	return nil, s.ctx.Err()
}

func node(id string) *cpb.Node { return &cpb.Node{Id: id} }

func ids(s Set) []string {
	var out []string
	for id := range s {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// TestFollowSeesOnlyCompleteSets: nothing before the backlog is complete, then every change.
func TestFollowSeesOnlyCompleteSets(t *testing.T) {
	cur := &fakeCurator{events: []*cpb.WatchEvent{
		{Nodes: []*cpb.Node{node("a")}},
		{Nodes: []*cpb.Node{node("b")}, Progress: cpb.WatchEvent_PROGRESS_LAST_BACKLOGGED},
		{Nodes: []*cpb.Node{node("c")}},
		{NodeTombstones: []*cpb.NodeTombstone{{NodeId: "a"}}},
	}, end: io.EOF}
	var seen [][]string
	err := Follow(context.Background(), cur, 0, func(s Set) error {
		seen = append(seen, ids(s))
		return nil
	})
	if !errors.Is(err, io.EOF) {
		t.Errorf("Follow ended with %v, want the stream's io.EOF", err)
	}
	want := [][]string{{"a", "b"}, {"a", "b", "c"}, {"b", "c"}}
	if !slices.EqualFunc(seen, want, slices.Equal) {
		t.Errorf("sets seen %q, want %q", seen, want)
	}
}

// TestFollowResyncs: with nothing changing, the set comes again every resync, and an error
// from onChange ends Follow with it.
func TestFollowResyncs(t *testing.T) {
	cur := &fakeCurator{events: []*cpb.WatchEvent{{Nodes: []*cpb.Node{node("a")}, Progress: cpb.WatchEvent_PROGRESS_LAST_BACKLOGGED}}}
	stop := errors.New("seen enough")
	calls := 0
	err := Follow(context.Background(), cur, 10*time.Millisecond, func(s Set) error {
		if calls++; calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 3 {
		t.Errorf("Follow = %v after %d calls, want %v after 3", err, calls, stop)
	}
}

// TestFollowStopsWithContext: a cancelled context ends Follow without a call.
func TestFollowStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := Follow(ctx, &fakeCurator{}, 0, func(Set) error {
		t.Error("onChange called without a complete set")
		return nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Follow = %v, want the context's deadline", err)
	}
}
