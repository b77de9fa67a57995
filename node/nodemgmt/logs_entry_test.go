package nodemgmt

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/logtree"
)

func TestEntryToAPI(t *testing.T) {
	lt := logtree.New()
	lt.MustLeveledFor("root.app").Warningf("first line\nsecond line")
	w, err := lt.RawFor("root.app")
	if err != nil {
		t.Fatalf("RawFor: %v", err)
	}
	long := strings.Repeat("x", logtree.MaxRawLineLength+100)
	if _, err := w.Write([]byte("plain output\n" + long + "\n")); err != nil {
		t.Fatalf("write raw: %v", err)
	}
	r, err := lt.Read("root.app", logtree.WithBacklog(logtree.BacklogAll))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(r.Backlog) != 3 {
		t.Fatalf("backlog has %d entries, want 3", len(r.Backlog))
	}

	leveled := entryToAPI(r.Backlog[0])
	if leveled.Dn != "root.app" {
		t.Errorf("leveled dn %q, want root.app", leveled.Dn)
	}
	got := leveled.GetLeveled()
	if !got.GetTimestamp().AsTime().Equal(r.Backlog[0].Timestamp()) {
		t.Errorf("leveled timestamp %v, want %v", got.GetTimestamp().AsTime(), r.Backlog[0].Timestamp())
	}
	if got.GetLine() == 0 {
		t.Error("leveled line 0, want the line of the logging call")
	}
	wantLeveled := &apb.LogEntry_LeveledEntry{
		Lines:     []string{"first line", "second line"},
		Severity:  apb.LogSeverity_LOG_SEVERITY_WARNING,
		File:      "logs_entry_test.go",
		Line:      got.GetLine(),
		Timestamp: got.GetTimestamp(),
	}
	if !proto.Equal(got, wantLeveled) {
		t.Errorf("leveled entry %v, want %v", got, wantLeveled)
	}

	for _, tc := range []struct {
		name           string
		entry          *logtree.LogEntry
		wantData       string
		wantOrigLength int64
	}{
		{"short line is kept whole", r.Backlog[1], "plain output", int64(len("plain output"))},
		{"cut line is marked by an original length beyond its data", r.Backlog[2], long[:logtree.MaxRawLineLength], logtree.MaxRawLineLength + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := entryToAPI(tc.entry).GetRaw()
			if raw == nil {
				t.Fatal("not converted to a raw entry")
			}
			if raw.Data != tc.wantData {
				t.Errorf("data %.40q… (%d bytes), want %.40q… (%d bytes)", raw.Data, len(raw.Data), tc.wantData, len(tc.wantData))
			}
			if raw.OriginalLength != tc.wantOrigLength {
				t.Errorf("original_length %d, want %d", raw.OriginalLength, tc.wantOrigLength)
			}
			if raw.Timestamp == nil {
				t.Error("timestamp missing, but the log tree records one")
			}
		})
	}
}

func TestSeveritiesRoundTrip(t *testing.T) {
	for _, s := range []logtree.Severity{logtree.INFO, logtree.WARNING, logtree.ERROR, logtree.FATAL} {
		back, ok := severityFromAPI(severityToAPI(s))
		if !ok || back != s {
			t.Errorf("%v came back as %v (ok %v)", s, back, ok)
		}
	}
	if _, ok := severityFromAPI(apb.LogSeverity_LOG_SEVERITY_UNSPECIFIED); ok {
		t.Error("UNSPECIFIED maps to a log tree severity, want none")
	}
}
