package logtree

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// KmsgRecord is one record read from /dev/kmsg, which the kernel formats as
//
//	priority,sequence,microseconds since boot,flags[,more fields];message
//	 KEY=value (optional dictionary lines)
//
// (see the kernel's Documentation/ABI/testing/dev-kmsg).
type KmsgRecord struct {
	// Facility and Level are the syslog parts of the priority; Level runs
	// from 0 (emergency) to 7 (debug).
	Facility int
	Level    int
	Sequence uint64
	// SinceBoot is the kernel's monotonic timestamp of the message.
	SinceBoot time.Duration
	// Continuation is set for the 'c' flag: the record continues an earlier
	// line that the kernel printed in pieces.
	Continuation bool
	// Message has the kernel's \xNN escapes undone, so a multi-line message
	// reads as lines again.
	Message string
}

// Severity maps the kernel's eight levels onto logtree's four: emergency to
// error become ERROR, warning stays WARNING and notice, info and debug are
// INFO. FATAL is never used: it would claim that the node stopped, which a
// kernel message at "crit" does not mean.
func (r KmsgRecord) Severity() Severity {
	switch {
	case r.Level <= 3:
		return ERROR
	case r.Level == 4:
		return WARNING
	}
	return INFO
}

// ParseKmsgRecord parses one record as returned by a single read of
// /dev/kmsg. Dictionary lines after the message are ignored, and so are
// header fields after the flags, which later kernels may add.
func ParseKmsgRecord(raw []byte) (KmsgRecord, error) {
	var r KmsgRecord
	s := string(raw)
	semi := strings.IndexByte(s, ';')
	if semi < 0 {
		return r, errors.New("kmsg record: no ';' between header and message")
	}
	fields := strings.Split(s[:semi], ",")
	if len(fields) < 4 {
		return r, fmt.Errorf("kmsg record: header %q has %d fields, want at least 4", s[:semi], len(fields))
	}
	prio, err := strconv.ParseUint(fields[0], 10, 31)
	if err != nil {
		return r, fmt.Errorf("kmsg record: priority %q: %w", fields[0], err)
	}
	r.Facility, r.Level = int(prio>>3), int(prio&7)
	if r.Sequence, err = strconv.ParseUint(fields[1], 10, 64); err != nil {
		return r, fmt.Errorf("kmsg record: sequence %q: %w", fields[1], err)
	}
	usec, err := strconv.ParseUint(fields[2], 10, 63)
	if err != nil || usec > uint64(1<<63-1)/uint64(time.Microsecond) {
		return r, fmt.Errorf("kmsg record: timestamp %q is not a count of microseconds", fields[2])
	}
	r.SinceBoot = time.Duration(usec) * time.Microsecond
	r.Continuation = strings.Contains(fields[3], "c")

	msg := s[semi+1:]
	if nl := strings.IndexByte(msg, '\n'); nl >= 0 {
		msg = msg[:nl]
	}
	r.Message = unescapeKmsg(msg)
	return r, nil
}

// unescapeKmsg undoes the kernel's \xNN escaping of control characters,
// bytes above 126 and the backslash itself. Malformed escapes are kept as is.
func unescapeKmsg(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
