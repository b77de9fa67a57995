package nodemgmt

import (
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/logtree"
)

// severityFromAPI maps an API severity onto the log tree's; false for UNSPECIFIED and unknown
// values.
func severityFromAPI(s apb.LogSeverity) (logtree.Severity, bool) {
	switch s {
	case apb.LogSeverity_LOG_SEVERITY_INFO:
		return logtree.INFO, true
	case apb.LogSeverity_LOG_SEVERITY_WARNING:
		return logtree.WARNING, true
	case apb.LogSeverity_LOG_SEVERITY_ERROR:
		return logtree.ERROR, true
	case apb.LogSeverity_LOG_SEVERITY_FATAL:
		return logtree.FATAL, true
	default:
		return 0, false
	}
}

func severityToAPI(s logtree.Severity) apb.LogSeverity {
	switch s {
	case logtree.INFO:
		return apb.LogSeverity_LOG_SEVERITY_INFO
	case logtree.WARNING:
		return apb.LogSeverity_LOG_SEVERITY_WARNING
	case logtree.ERROR:
		return apb.LogSeverity_LOG_SEVERITY_ERROR
	case logtree.FATAL:
		return apb.LogSeverity_LOG_SEVERITY_FATAL
	default:
		return apb.LogSeverity_LOG_SEVERITY_UNSPECIFIED
	}
}

// entryToAPI converts a log tree entry into the API's LogEntry.
func entryToAPI(e *logtree.LogEntry) *apb.LogEntry {
	rec := e.Record()
	out := &apb.LogEntry{Dn: string(rec.DN)}
	if rec.Raw {
		raw := &apb.LogEntry_RawEntry{Data: rec.Data, OriginalLength: int64(len(rec.Data))}
		if rec.Truncated {
			// The API signals a cut line by original_length > len(data), so the marker the log
			// tree appends for its own text output is dropped. The tree does not record how long
			// the line was; the shortest length it would have cut is the honest lower bound.
			raw.Data = strings.TrimSuffix(rec.Data, logtree.TruncationMarker)
			raw.OriginalLength = logtree.MaxRawLineLength + 1
		}
		if !rec.Time.IsZero() {
			raw.Timestamp = timestamppb.New(rec.Time)
		}
		out.Kind = &apb.LogEntry_Raw{Raw: raw}
		return out
	}
	out.Kind = &apb.LogEntry_Leveled{Leveled: &apb.LogEntry_LeveledEntry{
		Lines:     rec.Lines,
		Timestamp: timestamppb.New(rec.Time),
		Severity:  severityToAPI(rec.Severity),
		File:      rec.File,
		Line:      int32(rec.Line),
	}}
	return out
}
