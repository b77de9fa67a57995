package logtree

import (
	"strconv"
	"strings"
	"time"
)

// LogEntry is one entry in the tree: exactly one of Leveled and Raw is set.
// Entries are shared between the tree and every reader, so they are immutable:
// the payloads only have getters.
type LogEntry struct {
	// DN is the log source this entry was written to.
	DN DN
	// Leveled is set for entries written through a LeveledLogger (or parsed
	// from a raw line by a LineParser).
	Leveled *LeveledPayload
	// Raw is set for lines written through a RawFor writer that were not
	// turned into leveled entries.
	Raw *RawPayload

	// journalLinks are the tree's bookkeeping, guarded by the tree's lock.
	journalLinks
}

// LeveledPayload is a leveled message: when, how severe, where in the source,
// and the message. A multi-line message is kept whole as one entry.
type LeveledPayload struct {
	time     time.Time
	severity Severity
	file     string
	line     int
	lines    []string
}

// Timestamp is when the message was logged (or, for parsed lines, the time
// the original program wrote in it).
func (p *LeveledPayload) Timestamp() time.Time { return p.time }

// Severity of the message.
func (p *LeveledPayload) Severity() Severity { return p.severity }

// File is the base name of the source file that logged the message, or "" if
// unknown (as for kernel messages).
func (p *LeveledPayload) File() string { return p.file }

// Line is the line in File, or 0 if unknown.
func (p *LeveledPayload) Line() int { return p.line }

// Location returns "file.go:42", or "" if the file is unknown.
func (p *LeveledPayload) Location() string {
	if p.file == "" {
		return ""
	}
	return p.file + ":" + strconv.Itoa(p.line)
}

// Lines returns a copy of the message's lines (at least one, possibly empty).
func (p *LeveledPayload) Lines() []string {
	return append([]string(nil), p.lines...)
}

// Message returns the message with its lines joined by newlines.
func (p *LeveledPayload) Message() string { return strings.Join(p.lines, "\n") }

// RawPayload is one line of output from something that does not log through
// logtree, typically a child process.
type RawPayload struct {
	time      time.Time
	data      string
	truncated bool
}

// Timestamp is when logtree received the line.
func (p *RawPayload) Timestamp() time.Time { return p.time }

// Data is the line without its newline. If the line was too long it is cut
// and ends with TruncationMarker.
func (p *RawPayload) Data() string { return p.data }

// Truncated reports whether the line was cut to MaxRawLineLength.
func (p *RawPayload) Truncated() bool { return p.truncated }

// Timestamp returns the entry's time whatever its kind.
func (e *LogEntry) Timestamp() time.Time {
	if e.Leveled != nil {
		return e.Leveled.time
	}
	return e.Raw.time
}

// newLeveledEntry splits message into lines, dropping one trailing newline so
// that Info("x\n") and Info("x") read the same.
//
// The entry, its payload and (for the common single-line message) its line
// slice share one allocation.
func newLeveledEntry(dn DN, t time.Time, sev Severity, file string, line int, message string) *LogEntry {
	a := &struct {
		entry   LogEntry
		payload LeveledPayload
		one     [1]string
	}{}
	message = strings.TrimSuffix(message, "\n")
	if strings.IndexByte(message, '\n') < 0 {
		a.one[0] = message
		a.payload.lines = a.one[:]
	} else {
		a.payload.lines = strings.Split(message, "\n")
	}
	a.payload.time, a.payload.severity, a.payload.file, a.payload.line = t, sev, file, line
	a.entry.DN, a.entry.Leveled = dn, &a.payload
	return &a.entry
}

func newRawEntry(dn DN, t time.Time, data string, truncated bool) *LogEntry {
	a := &struct {
		entry   LogEntry
		payload RawPayload
	}{}
	a.payload = RawPayload{time: t, data: data, truncated: truncated}
	a.entry.DN, a.entry.Raw = dn, &a.payload
	return &a.entry
}
