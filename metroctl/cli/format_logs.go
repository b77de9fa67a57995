package cli

import (
	"strconv"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
)

// logTimeLayout is glog's "mmdd hh:mm:ss.uuuuuu", as the node's own log tree prints it.
const logTimeLayout = "0102 15:04:05.000000"

// severityLetter is glog's letter for a severity.
func severityLetter(s apb.LogSeverity) byte {
	switch s {
	case apb.LogSeverity_LOG_SEVERITY_INFO:
		return 'I'
	case apb.LogSeverity_LOG_SEVERITY_WARNING:
		return 'W'
	case apb.LogSeverity_LOG_SEVERITY_ERROR:
		return 'E'
	case apb.LogSeverity_LOG_SEVERITY_FATAL:
		return 'F'
	}
	return '?'
}

// formatLogEntry renders an entry the way the node's log tree does, one string per line:
//
//	I1123 21:10:19.123456 root.consensus.etcd etcd.go:42] message
//	R1123 21:10:19.123500 root.consensus.etcd] raw process output
//
// Continuation lines of a multi-line message repeat the header with '|' instead of ']', so
// that grep finds every line with its origin. Times are shown in loc.
func formatLogEntry(e *apb.LogEntry, loc *time.Location) []string {
	if raw := e.GetRaw(); raw != nil {
		h := header('R', raw.Timestamp.AsTime(), raw.Timestamp != nil, loc, e.Dn, "")
		return []string{h + "] " + raw.Data}
	}
	lv := e.GetLeveled()
	if lv == nil {
		return []string{header('?', time.Time{}, false, loc, e.Dn, "") + "] (entry of unknown kind)"}
	}
	location := ""
	if lv.File != "" {
		location = lv.File + ":" + strconv.Itoa(int(lv.Line))
	}
	h := header(severityLetter(lv.Severity), lv.Timestamp.AsTime(), lv.Timestamp != nil, loc, e.Dn, location)
	lines := lv.Lines
	if len(lines) == 0 {
		lines = []string{""}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		sep := "] "
		if i > 0 {
			sep = "| "
		}
		out[i] = h + sep + l
	}
	return out
}

func header(letter byte, t time.Time, hasTime bool, loc *time.Location, dn, location string) string {
	b := []byte{letter}
	if hasTime {
		b = t.In(loc).AppendFormat(b, logTimeLayout)
	} else {
		// Keeps columns aligned with timestamped lines.
		b = append(b, "                    "...)
	}
	if dn != "" {
		b = append(b, ' ')
		b = append(b, dn...)
	}
	if location != "" {
		b = append(b, ' ')
		b = append(b, location...)
	}
	return string(b)
}
