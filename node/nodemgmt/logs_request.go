package nodemgmt

import (
	"fmt"
	"math"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/logtree"
)

// rootDN is what an empty GetLogsRequest.dn stands for: the supervisor's root runnable, under
// which every runnable of the node logs.
const rootDN = logtree.DN("root")

// logRead is a GetLogs request checked and translated into log tree terms. Decisions about a
// request live here, free of I/O, so that tests can drive them directly.
type logRead struct {
	dn logtree.DN
	// backlog is 0 for no stored entries, logtree.BacklogAll, or a count.
	backlog     int
	follow      bool
	children    bool
	onlyLeveled bool
	onlyRaw     bool
	minSeverity logtree.Severity
}

// parseLogRead checks req and returns what to read. Its errors name the request field that is
// wrong; they are all the client's fault (codes.InvalidArgument).
func parseLogRead(req *apb.GetLogsRequest) (logRead, error) {
	var r logRead

	r.dn = logtree.DN(req.GetDn())
	if r.dn == "" {
		r.dn = rootDN
	}
	if err := r.dn.Validate(); err != nil {
		return logRead{}, fmt.Errorf("dn: %w", err)
	}

	switch m := req.GetBacklogMode(); m {
	case apb.GetLogsRequest_BACKLOG_MODE_NONE:
	case apb.GetLogsRequest_BACKLOG_MODE_ALL:
		r.backlog = logtree.BacklogAll
	case apb.GetLogsRequest_BACKLOG_MODE_COUNT:
		n := req.GetBacklogCount()
		if n < 1 {
			return logRead{}, fmt.Errorf("backlog_count: %d with BACKLOG_MODE_COUNT, want 1 or more", n)
		}
		// More than any log tree holds; the cap only keeps the conversion exact on 32-bit.
		r.backlog = int(min(n, math.MaxInt32))
	case apb.GetLogsRequest_BACKLOG_MODE_UNSPECIFIED:
		return logRead{}, fmt.Errorf("backlog_mode: not set, want NONE, ALL or COUNT")
	default:
		return logRead{}, fmt.Errorf("backlog_mode: unknown value %d", m)
	}

	switch m := req.GetStreamMode(); m {
	case apb.GetLogsRequest_STREAM_MODE_DISABLE:
	case apb.GetLogsRequest_STREAM_MODE_UNBUFFERED:
		r.follow = true
	case apb.GetLogsRequest_STREAM_MODE_UNSPECIFIED:
		return logRead{}, fmt.Errorf("stream_mode: not set, want DISABLE or UNBUFFERED")
	default:
		return logRead{}, fmt.Errorf("stream_mode: unknown value %d", m)
	}

	if err := r.parseFilter(req.GetFilter()); err != nil {
		return logRead{}, err
	}
	return r, nil
}

// parseFilter fills in the filter fields of r. A nil filter passes every entry of the DN itself.
func (r *logRead) parseFilter(f *apb.LogFilter) error {
	r.children = f.GetWithChildren()

	switch k := f.GetEntryKind(); k {
	case apb.LogFilter_ENTRY_KIND_ANY:
	case apb.LogFilter_ENTRY_KIND_LEVELED:
		r.onlyLeveled = true
	case apb.LogFilter_ENTRY_KIND_RAW:
		r.onlyRaw = true
	default:
		return fmt.Errorf("filter.entry_kind: unknown value %d", k)
	}

	sev := f.GetMinimumSeverity()
	if sev == apb.LogSeverity_LOG_SEVERITY_UNSPECIFIED {
		return nil
	}
	minSev, ok := severityFromAPI(sev)
	if !ok {
		return fmt.Errorf("filter.minimum_severity: unknown value %d", sev)
	}
	if r.onlyRaw {
		return fmt.Errorf("filter.minimum_severity: %s excludes raw entries, but entry_kind is ENTRY_KIND_RAW", sev)
	}
	// Raw entries have no severity, so a minimum leaves only leveled ones.
	r.onlyLeveled = true
	r.minSeverity = minSev
	return nil
}

// options returns the log tree read options for r.
func (r logRead) options() []logtree.ReadOption {
	var opts []logtree.ReadOption
	if r.backlog != 0 {
		opts = append(opts, logtree.WithBacklog(r.backlog))
	}
	if r.follow {
		opts = append(opts, logtree.WithStream())
	}
	if r.children {
		opts = append(opts, logtree.WithChildren())
	}
	if r.onlyLeveled {
		opts = append(opts, logtree.OnlyLeveled())
	}
	if r.onlyRaw {
		opts = append(opts, logtree.OnlyRaw())
	}
	if r.minSeverity != 0 {
		opts = append(opts, logtree.LeveledWithMinimumSeverity(r.minSeverity))
	}
	return opts
}
