package logtree

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRawWriterSplitsLines(t *testing.T) {
	long := strings.Repeat("x", MaxRawLineLength+10)
	for _, tc := range []struct {
		name   string
		writes []string
		want   []string
	}{
		{"one line per write", []string{"a\n", "b\n"}, []string{"a", "b"}},
		{"many lines in one write", []string{"a\nb\nc\n"}, []string{"a", "b", "c"}},
		{"line split across writes", []string{"hel", "lo", " world\nnext"}, []string{"hello world", "next"}},
		{"empty lines kept", []string{"\n\na\n"}, []string{"", "", "a"}},
		{"CRLF endings lose the CR", []string{"dos\r\n"}, []string{"dos"}},
		{"unterminated last line flushed on Close", []string{"tail"}, []string{"tail"}},
		{"overlong line cut with marker, rest dropped", []string{long + "\nafter\n"},
			[]string{strings.Repeat("x", MaxRawLineLength) + TruncationMarker, "after"}},
		{"overlong line across writes", []string{long[:100], long[100:], "\nafter\n"},
			[]string{strings.Repeat("x", MaxRawLineLength) + TruncationMarker, "after"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := New()
			w, err := lt.RawFor("root.proc")
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.writes {
				if n, err := io.WriteString(w, s); err != nil || n != len(s) {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(s))
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got := backlog(t, lt, "root.proc")
			if msgs := messages(got); !equal(msgs, tc.want) {
				t.Errorf("entries = %.80q, want %.80q", msgs, tc.want)
			}
			for _, e := range got {
				if e.Raw == nil {
					t.Fatalf("entry %v is not raw", e)
				}
				if truncated := strings.HasSuffix(e.Raw.Data(), TruncationMarker); e.Raw.Truncated() != truncated {
					t.Errorf("Truncated() = %v for %.40q", e.Raw.Truncated(), e.Raw.Data())
				}
			}
		})
	}
}

func TestRawTruncationKeepsValidUTF8(t *testing.T) {
	lt := New()
	w, _ := lt.RawFor("root")
	// A three-byte rune straddles the limit.
	line := strings.Repeat("a", MaxRawLineLength-1) + "€€"
	fmt.Fprintln(w, line)
	got := backlog(t, lt, "root")[0].Raw.Data()
	if !utf8.ValidString(got) {
		t.Errorf("truncated line is not valid UTF-8: ...%q", got[len(got)-30:])
	}
}

func TestRawWriteAfterCloseFails(t *testing.T) {
	w, _ := New().RawFor("root")
	w.Close()
	if _, err := w.Write([]byte("late\n")); err == nil {
		t.Error("Write after Close succeeded, want an error")
	}
}

func TestRawLineParserTurnsLinesLeveled(t *testing.T) {
	lt := New()
	w, err := lt.RawFor("root.kubelet", WithLineParser(ParseKlog))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "E0102 15:04:05.123456    1234 kubelet.go:77] failed to sync\nplain output\n")
	got := backlog(t, lt, "root.kubelet")
	if len(got) != 2 {
		t.Fatalf("got %d entries, want 2", len(got))
	}
	p := got[0].Leveled
	if p == nil || p.Severity() != ERROR || p.Location() != "kubelet.go:77" || p.Message() != "failed to sync" {
		t.Errorf("first entry = %v, want leveled ERROR at kubelet.go:77 'failed to sync'", got[0])
	}
	if got[1].Raw == nil || got[1].Raw.Data() != "plain output" {
		t.Errorf("second entry = %v, want raw 'plain output'", got[1])
	}
}

func TestRawForRejectsInvalidDN(t *testing.T) {
	if _, err := New().RawFor("root.a b"); err == nil {
		t.Error("RawFor with a space in the DN succeeded, want an error")
	}
}
