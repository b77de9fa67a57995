package nodemgmt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/logtree"
)

// fixtureDNs are the DNs writeFixture logs to; other DNs (the supervisor's own) are ignored when
// comparing results.
var fixtureDNs = []string{"root.app", "root.app.worker", "root.other"}

// writeFixture logs, in this order: to root.app INFO "app started", WARNING "app slow" and raw
// "app output"; to root.app.worker ERROR "worker failed" and raw "worker output"; to root.other
// INFO "other started".
func writeFixture(t *testing.T, lt *logtree.LogTree) {
	t.Helper()
	raw := func(dn logtree.DN, line string) {
		w, err := lt.RawFor(dn)
		if err != nil {
			t.Fatalf("RawFor(%s): %v", dn, err)
		}
		fmt.Fprintln(w, line)
	}
	lt.MustLeveledFor("root.app").Info("app started")
	lt.MustLeveledFor("root.app").Warning("app slow")
	raw("root.app", "app output")
	lt.MustLeveledFor("root.app.worker").Error("worker failed")
	raw("root.app.worker", "worker output")
	lt.MustLeveledFor("root.other").Info("other started")
}

// entryText is an entry's message (leveled) or data (raw).
func entryText(e *apb.LogEntry) string {
	if raw := e.GetRaw(); raw != nil {
		return raw.Data
	}
	return strings.Join(e.GetLeveled().GetLines(), "\n")
}

// readAll reads a GetLogs call to its end and returns the backlog's texts from fixture DNs. It
// fails the test if a message mixes backlog and stream entries.
func readAll(t *testing.T, s grpc.ServerStreamingClient[apb.GetLogsResponse]) ([]string, error) {
	t.Helper()
	var backlog []string
	for {
		msg, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return backlog, nil
		}
		if err != nil {
			return backlog, err
		}
		if len(msg.StreamEntries) > 0 {
			t.Fatalf("stream entries %v in a call without streaming", msg.StreamEntries)
		}
		for _, e := range msg.BacklogEntries {
			if slices.Contains(fixtureDNs, e.Dn) {
				backlog = append(backlog, entryText(e))
			}
		}
	}
}

func TestGetLogsBacklog(t *testing.T) {
	tn := startNode(t, testOptions{})
	writeFixture(t, tn.logs)

	for _, tc := range []struct {
		name   string
		dn     string
		mode   apb.GetLogsRequest_BacklogMode
		count  int64
		filter *apb.LogFilter
		want   []string
	}{
		{"one DN, both kinds", "root.app", backlogAll, 0, nil,
			[]string{"app started", "app slow", "app output"}},
		{"with children, in the order written", "root.app", backlogAll, 0, &apb.LogFilter{WithChildren: true},
			[]string{"app started", "app slow", "app output", "worker failed", "worker output"}},
		{"empty DN with children is the whole tree", "", backlogAll, 0, &apb.LogFilter{WithChildren: true},
			[]string{"app started", "app slow", "app output", "worker failed", "worker output", "other started"}},
		{"minimum severity drops milder and raw entries", "root.app", backlogAll, 0,
			&apb.LogFilter{WithChildren: true, MinimumSeverity: apb.LogSeverity_LOG_SEVERITY_WARNING},
			[]string{"app slow", "worker failed"}},
		{"only raw", "root.app", backlogAll, 0, &apb.LogFilter{WithChildren: true, EntryKind: apb.LogFilter_ENTRY_KIND_RAW},
			[]string{"app output", "worker output"}},
		{"only leveled", "root.app", backlogAll, 0, &apb.LogFilter{EntryKind: apb.LogFilter_ENTRY_KIND_LEVELED},
			[]string{"app started", "app slow"}},
		{"count keeps the newest", "root.app", backlogCount, 2, nil,
			[]string{"app slow", "app output"}},
		{"DN that never logged is empty, not an error", "root.nobody", backlogAll, 0, nil, nil},
		{"no backlog asked, none sent", "root.app", backlogNone, 0, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tn.client.GetLogs(context.Background(), &apb.GetLogsRequest{
				Dn: tc.dn, BacklogMode: tc.mode, BacklogCount: tc.count, StreamMode: streamOff, Filter: tc.filter,
			})
			if err != nil {
				t.Fatalf("GetLogs: %v", err)
			}
			got, err := readAll(t, s)
			if err != nil {
				t.Fatalf("GetLogs: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("backlog %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGetLogsBacklogLargerThanOneMessage(t *testing.T) {
	tn := startNode(t, testOptions{})
	l := tn.logs.MustLeveledFor("root.chatty")
	const n = 3*maxEntriesPerMessage + 1
	for i := range n {
		l.Infof("entry %d", i)
	}
	s, err := tn.client.GetLogs(context.Background(), &apb.GetLogsRequest{Dn: "root.chatty", BacklogMode: backlogAll, StreamMode: streamOff})
	if err != nil {
		t.Fatalf("GetLogs: %v", err)
	}
	var got []string
	for {
		msg, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		for _, e := range msg.BacklogEntries {
			got = append(got, entryText(e))
		}
	}
	if len(got) != n || got[0] != "entry 0" || got[n-1] != fmt.Sprintf("entry %d", n-1) {
		t.Errorf("got %d entries from %q to %q, want %d oldest first", len(got), got[0], got[len(got)-1], n)
	}
}

func TestGetLogsRejectsBadRequests(t *testing.T) {
	tn := startNode(t, testOptions{})
	for _, tc := range []struct {
		name      string
		req       *apb.GetLogsRequest
		wantField string
	}{
		{"malformed DN", &apb.GetLogsRequest{Dn: "root/app", BacklogMode: backlogAll, StreamMode: streamOff}, "dn"},
		{"unset backlog mode", &apb.GetLogsRequest{Dn: "root", StreamMode: streamOff}, "backlog_mode"},
		{"count below one", &apb.GetLogsRequest{Dn: "root", BacklogMode: backlogCount, BacklogCount: 0, StreamMode: streamOn}, "backlog_count"},
		{"unset stream mode", &apb.GetLogsRequest{Dn: "root", BacklogMode: backlogAll}, "stream_mode"},
		{"raw entries with a minimum severity", &apb.GetLogsRequest{Dn: "root", BacklogMode: backlogAll, StreamMode: streamOff,
			Filter: &apb.LogFilter{EntryKind: apb.LogFilter_ENTRY_KIND_RAW, MinimumSeverity: apb.LogSeverity_LOG_SEVERITY_INFO}}, "filter.minimum_severity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tn.client.GetLogs(context.Background(), tc.req)
			if err == nil {
				_, err = s.Recv()
			}
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tc.wantField) {
				t.Errorf("error %v, want InvalidArgument naming %s", err, tc.wantField)
			}
		})
	}
}
