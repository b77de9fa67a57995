package logtree

import (
	"strings"
	"testing"
	"time"
)

func TestEntryString(t *testing.T) {
	at := time.Date(2025, 11, 23, 21, 10, 19, 123456789, time.UTC)
	for _, tc := range []struct {
		name  string
		entry *LogEntry
		want  string
	}{
		{"leveled", newLeveledEntry("root.consensus.etcd", at, INFO, "etcd.go", 42, "message"),
			"I1123 21:10:19.123456 root.consensus.etcd etcd.go:42] message"},
		{"warning without location", newLeveledEntry("root.kernel", at, WARNING, "", 0, "thermal"),
			"W1123 21:10:19.123456 root.kernel] thermal"},
		{"multi-line continuation marked", newLeveledEntry("root", at, ERROR, "a.go", 1, "one\ntwo"),
			"E1123 21:10:19.123456 root a.go:1] one\nE1123 21:10:19.123456 root a.go:1| two"},
		{"raw", newRawEntry("root.proc", at, "output line", false),
			"R1123 21:10:19.123456 root.proc] output line"},
	} {
		if got := tc.entry.String(); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestEntryRecordIsIndependentCopy(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	e := newLeveledEntry("root.a", at, WARNING, "a.go", 7, "x\ny")
	r := e.Record()
	want := Record{DN: "root.a", Time: at, Severity: WARNING, File: "a.go", Line: 7, Lines: []string{"x", "y"}}
	if r.DN != want.DN || !r.Time.Equal(want.Time) || r.Severity != want.Severity || r.File != want.File ||
		r.Line != want.Line || strings.Join(r.Lines, "\n") != "x\ny" || r.Raw {
		t.Errorf("Record() = %+v, want %+v", r, want)
	}
	r.Lines[0] = "changed"
	if e.Leveled.Message() != "x\ny" {
		t.Error("changing the Record changed the stored entry")
	}

	raw := newRawEntry("root.p", at, "cut"+TruncationMarker, true).Record()
	if !raw.Raw || raw.Data != "cut"+TruncationMarker || !raw.Truncated || raw.Severity != 0 {
		t.Errorf("raw Record() = %+v, want Raw, Data and Truncated set, no severity", raw)
	}
}
