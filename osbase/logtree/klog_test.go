package logtree

import (
	"strings"
	"testing"
	"time"
)

func TestParseKlog(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		line string
		ok   bool
		want ExternalEntry
	}{
		{"info with padded thread id", "I0102 15:04:05.000000    1234 file.go:12] msg", true,
			ExternalEntry{Time: time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC), Severity: INFO, File: "file.go", Line: 12, Message: "msg"}},
		{"error with microseconds", "E0615 11:59:59.123456 7 server.go:901] failed: x] y", true,
			ExternalEntry{Time: time.Date(2025, 6, 15, 11, 59, 59, 123456000, time.UTC), Severity: ERROR, File: "server.go", Line: 901, Message: "failed: x] y"}},
		{"warning, empty message", "W0615 10:00:00.000001 1 a.go:1]", true,
			ExternalEntry{Time: time.Date(2025, 6, 15, 10, 0, 0, 1000, time.UTC), Severity: WARNING, File: "a.go", Line: 1}},
		{"fatal without fraction", "F0615 10:00:00 1 a.go:1] boom", true,
			ExternalEntry{Time: time.Date(2025, 6, 15, 10, 0, 0, 0, time.UTC), Severity: FATAL, File: "a.go", Line: 1, Message: "boom"}},
		{"December line read in June is from this year", "I1231 23:59:59.000000 1 a.go:1] old", true,
			ExternalEntry{Time: time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC), Severity: INFO, File: "a.go", Line: 1, Message: "old"}},
		{"tomorrow is still this year", "I0616 11:00:00.000000 1 a.go:1] clock skew", true,
			ExternalEntry{Time: time.Date(2025, 6, 16, 11, 0, 0, 0, time.UTC), Severity: INFO, File: "a.go", Line: 1, Message: "clock skew"}},
		{"plain text", "hello world", false, ExternalEntry{}},
		{"unknown severity letter", "X0102 15:04:05.000000 1 a.go:1] m", false, ExternalEntry{}},
		{"month 13", "I1302 15:04:05.000000 1 a.go:1] m", false, ExternalEntry{}},
		{"31 April", "I0431 15:04:05.000000 1 a.go:1] m", false, ExternalEntry{}},
		{"hour 24", "I0102 24:04:05.000000 1 a.go:1] m", false, ExternalEntry{}},
		{"thread id not numeric", "I0102 15:04:05.000000 abc a.go:1] m", false, ExternalEntry{}},
		{"no line number", "I0102 15:04:05.000000 1 a.go] m", false, ExternalEntry{}},
		{"no file", "I0102 15:04:05.000000 1 :12] m", false, ExternalEntry{}},
		{"no closing bracket", "I0102 15:04:05.000000 1 a.go:1 m", false, ExternalEntry{}},
		{"no space after bracket", "I0102 15:04:05.000000 1 a.go:1]m", false, ExternalEntry{}},
		{"too short", "I0102", false, ExternalEntry{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseKlogAt(tc.line, now)
			if ok != tc.ok {
				t.Fatalf("ParseKlogAt(%q) ok = %v, want %v", tc.line, ok, tc.ok)
			}
			if !ok {
				return
			}
			if !got.Time.Equal(tc.want.Time) || got.Severity != tc.want.Severity || got.File != tc.want.File ||
				got.Line != tc.want.Line || got.Message != tc.want.Message {
				t.Errorf("ParseKlogAt(%q) =\n %+v\nwant\n %+v", tc.line, got, tc.want)
			}
		})
	}
}

// TestParseKlogNewYear covers the year rollover: a line from 31 December
// read just after midnight on 1 January belongs to the previous year.
func TestParseKlogNewYear(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)
	got, ok := ParseKlogAt("I1231 23:59:59.000000 1 a.go:1] m", now)
	if !ok || got.Time.Year() != 2025 {
		t.Errorf("got %v, %v; want a time in 2025", got.Time, ok)
	}
}

// FuzzParseKlog checks that the parser never panics and that whatever it
// accepts is a coherent entry taken from the line itself.
func FuzzParseKlog(f *testing.F) {
	for _, s := range []string{
		"I0102 15:04:05.000000    1234 file.go:12] msg",
		"E1231 23:59:59.999999 1 a/b/c.go:99999] x",
		"W0229 00:00:00 1 a.go:1]",
		"F0102 15:04:05.1 1 a:1] ]]",
		"I0102 15:04:05.000000 1 a.go:1]m",
	} {
		f.Add(s)
	}
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line string) {
		e, ok := ParseKlogAt(line, now)
		if !ok {
			return
		}
		if !e.Severity.Valid() {
			t.Errorf("accepted %q with invalid severity %v", line, e.Severity)
		}
		if e.File == "" || e.Line < 0 || !strings.Contains(line, e.File) {
			t.Errorf("accepted %q with location %q:%d", line, e.File, e.Line)
		}
		if !strings.HasSuffix(line, e.Message) {
			t.Errorf("accepted %q with message %q that is not its tail", line, e.Message)
		}
		if e.Time.After(now.Add(24*time.Hour)) || e.Time.Before(now.AddDate(-1, 0, -2)) {
			t.Errorf("accepted %q with time %v outside the year before now", line, e.Time)
		}
	})
}
