package nodemgmt

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/osbase/logtree"
)

func TestGetLogsFollowsUntilClientCancels(t *testing.T) {
	for _, tc := range []struct {
		name        string
		mode        apb.GetLogsRequest_BacklogMode
		wantBacklog []string
	}{
		{"stored entries first, then new ones", backlogAll, []string{"before"}},
		{"only new entries", backlogNone, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := startNode(t, testOptions{})
			l := tn.logs.MustLeveledFor("root.app")
			l.Info("before")

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := tn.client.GetLogs(ctx, &apb.GetLogsRequest{Dn: "root.app", BacklogMode: tc.mode, StreamMode: streamOn})
			if err != nil {
				t.Fatalf("GetLogs: %v", err)
			}
			var backlog []string
			if tc.wantBacklog != nil {
				msg, err := s.Recv()
				if err != nil {
					t.Fatalf("Recv backlog: %v", err)
				}
				if len(msg.StreamEntries) > 0 {
					t.Fatalf("first message carries stream entries %v, want only backlog", msg.StreamEntries)
				}
				for _, e := range msg.BacklogEntries {
					backlog = append(backlog, entryText(e))
				}
			}
			if !slices.Equal(backlog, tc.wantBacklog) {
				t.Errorf("backlog %q, want %q", backlog, tc.wantBacklog)
			}

			var streamed []string
			if tc.wantBacklog == nil {
				// Without a backlog nothing shows when the server has attached to the tree.
				streamed = attach(t, l, s)
			}
			l.Info("after 1")
			l.Info("after 2")
			for len(streamed) < 2 {
				msg, err := s.Recv()
				if err != nil {
					t.Fatalf("Recv stream: %v", err)
				}
				if len(msg.BacklogEntries) > 0 {
					t.Fatalf("backlog entries %v after streaming started", msg.BacklogEntries)
				}
				for _, e := range msg.StreamEntries {
					if text := entryText(e); text != probe {
						streamed = append(streamed, text)
					}
				}
			}
			if want := []string{"after 1", "after 2"}; !slices.Equal(streamed, want) {
				t.Errorf("streamed %q, want %q", streamed, want)
			}

			cancel()
			if _, err := s.Recv(); status.Code(err) != codes.Canceled {
				t.Errorf("Recv after cancel: %v, want Canceled", err)
			}
			waitHandlerDone(t, tn, "GetLogs")
		})
	}
}

func TestGetLogsReportsEntriesASlowReaderMissed(t *testing.T) {
	// A fixed, small flow control window makes a client that does not read stop the server's
	// sends soon, so the log tree has to drop entries for it.
	tn := startNode(t, testOptions{clientWindow: 64 << 10})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := tn.client.GetLogs(ctx, &apb.GetLogsRequest{Dn: "root.spam", BacklogMode: backlogNone, StreamMode: streamOn})
	if err != nil {
		t.Fatalf("GetLogs: %v", err)
	}
	l := tn.logs.MustLeveledFor("root.spam")
	attach(t, l, s)
	// From here the client reads nothing. Far more than the stream buffer and both flow
	// control windows hold:
	for i := range 20 * logtree.DefaultStreamBuffer {
		l.Infof("spam %d, padded to take room on the wire %s", i, strings.Repeat(".", 100))
	}
	cancel()
	waitHandlerDone(t, tn, "GetLogs")
	if err := logged(tn.logs, serviceDN, "missed"); err != nil {
		t.Errorf("missed entries not reported: %v", err)
	}
}

// probe is the message attach logs.
const probe = "probe"

// attach logs probe entries to l until the first one arrives on s, which shows that the server
// follows the log tree. It returns the texts of other entries that came with the probes.
func attach(t *testing.T, l logtree.LeveledLogger, s grpc.ServerStreamingClient[apb.GetLogsResponse]) []string {
	t.Helper()
	type result struct {
		msg *apb.GetLogsResponse
		err error
	}
	got := make(chan result, 1)
	go func() {
		msg, err := s.Recv()
		got <- result{msg, err}
	}()
	var others []string
	eventually.Pass(t, patience, "server follows the log tree", func(context.Context) error {
		l.Info(probe)
		select {
		case r := <-got:
			if r.err != nil {
				t.Fatalf("Recv: %v", r.err)
			}
			for _, e := range r.msg.StreamEntries {
				if text := entryText(e); text != probe {
					others = append(others, text)
				}
			}
			return nil
		case <-time.After(50 * time.Millisecond):
			return errors.New("no probe arrived")
		}
	})
	return others
}

// waitHandlerDone waits until the server's only handler for method has returned.
func waitHandlerDone(t *testing.T, tn *testNode, method string) {
	t.Helper()
	eventually.Pass(t, patience, method+" handler returns", func(context.Context) error {
		if tn.handlersReturned(method) == 0 {
			return errors.New("still running")
		}
		return nil
	})
}
