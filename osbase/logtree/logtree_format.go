package logtree

import (
	"strings"
	"time"
)

// RawLetter starts formatted raw lines where a leveled line has its severity
// letter, so a reader tells process output from the node's own logs at a glance.
const RawLetter = 'R'

// timeLayout is glog's "mmdd hh:mm:ss.uuuuuu" (without the severity letter).
const timeLayout = "0102 15:04:05.000000"

// String formats the entry glog-style, with the DN after the time:
//
//	I1123 21:10:19.123456 root.consensus.etcd etcd.go:42] message
//	R1123 21:10:19.123500 root.consensus.etcd] raw process output
//
// Continuation lines of a multi-line message repeat the header and use '|'
// instead of ']' so that they are visibly part of the entry above.
func (e *LogEntry) String() string {
	return strings.Join(e.Strings(), "\n")
}

// Strings formats the entry like String, one string per line.
func (e *LogEntry) Strings() []string {
	if e.Raw != nil {
		h := appendHeader(nil, RawLetter, e.Raw.time, e.DN, "")
		return []string{string(h) + "] " + e.Raw.data}
	}
	p := e.Leveled
	h := appendHeader(nil, p.severity.Letter(), p.time, e.DN, p.Location())
	out := make([]string, len(p.lines))
	for i, l := range p.lines {
		sep := "] "
		if i > 0 {
			sep = "| "
		}
		out[i] = string(h) + sep + l
	}
	return out
}

func appendHeader(b []byte, letter byte, t time.Time, dn DN, location string) []byte {
	b = append(b, letter)
	b = t.AppendFormat(b, timeLayout)
	if dn != "" {
		b = append(b, ' ')
		b = append(b, dn...)
	}
	if location != "" {
		b = append(b, ' ')
		b = append(b, location...)
	}
	return b
}

// Record is a LogEntry flattened into plain fields, ready to be copied into an
// API message or JSON. Raw entries have Raw set, Data filled and no Severity.
type Record struct {
	DN        DN
	Time      time.Time
	Raw       bool
	Severity  Severity
	File      string
	Line      int
	Lines     []string
	Data      string
	Truncated bool
}

// Record returns the entry as a Record. The returned value shares nothing
// with the entry, so the caller may modify it.
func (e *LogEntry) Record() Record {
	if e.Raw != nil {
		return Record{DN: e.DN, Time: e.Raw.time, Raw: true, Data: e.Raw.data, Truncated: e.Raw.truncated}
	}
	p := e.Leveled
	return Record{DN: e.DN, Time: p.time, Severity: p.severity, File: p.file, Line: p.line, Lines: p.Lines()}
}
