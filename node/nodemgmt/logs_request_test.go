package nodemgmt

import (
	"strings"
	"testing"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/logtree"
)

const (
	backlogNone  = apb.GetLogsRequest_BACKLOG_MODE_NONE
	backlogAll   = apb.GetLogsRequest_BACKLOG_MODE_ALL
	backlogCount = apb.GetLogsRequest_BACKLOG_MODE_COUNT
	streamOff    = apb.GetLogsRequest_STREAM_MODE_DISABLE
	streamOn     = apb.GetLogsRequest_STREAM_MODE_UNBUFFERED
)

func TestParseLogRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  *apb.GetLogsRequest
		want logRead
		// wantErr, if set, is the field the error must name.
		wantErr string
	}{
		{
			name: "empty dn reads the root runnable",
			req:  &apb.GetLogsRequest{BacklogMode: backlogAll, StreamMode: streamOff},
			want: logRead{dn: "root", backlog: logtree.BacklogAll},
		},
		{
			name: "count of newest entries, then follow",
			req:  &apb.GetLogsRequest{Dn: "root.net", BacklogMode: backlogCount, BacklogCount: 10, StreamMode: streamOn},
			want: logRead{dn: "root.net", backlog: 10, follow: true},
		},
		{
			name: "only new entries",
			req:  &apb.GetLogsRequest{Dn: "root.net", BacklogMode: backlogNone, StreamMode: streamOn},
			want: logRead{dn: "root.net", follow: true},
		},
		{
			name: "backlog_count is ignored outside COUNT mode",
			req:  &apb.GetLogsRequest{Dn: "root", BacklogMode: backlogAll, BacklogCount: -5, StreamMode: streamOff},
			want: logRead{dn: "root", backlog: logtree.BacklogAll},
		},
		{
			name: "minimum severity leaves only leveled entries",
			req: &apb.GetLogsRequest{Dn: "root", BacklogMode: backlogAll, StreamMode: streamOff, Filter: &apb.LogFilter{
				WithChildren: true, MinimumSeverity: apb.LogSeverity_LOG_SEVERITY_WARNING,
			}},
			want: logRead{dn: "root", backlog: logtree.BacklogAll, children: true, onlyLeveled: true, minSeverity: logtree.WARNING},
		},
		{
			name: "only raw entries",
			req: &apb.GetLogsRequest{Dn: "root", BacklogMode: backlogAll, StreamMode: streamOff, Filter: &apb.LogFilter{
				EntryKind: apb.LogFilter_ENTRY_KIND_RAW,
			}},
			want: logRead{dn: "root", backlog: logtree.BacklogAll, onlyRaw: true},
		},
		{
			name:    "malformed dn is rejected",
			req:     &apb.GetLogsRequest{Dn: "root..net", BacklogMode: backlogAll, StreamMode: streamOff},
			wantErr: "dn",
		},
		{
			name:    "a megabyte of dn is rejected, quoting only its start",
			req:     &apb.GetLogsRequest{Dn: "root." + strings.Repeat("a", 1<<20) + "!", BacklogMode: backlogAll, StreamMode: streamOff},
			wantErr: "dn",
		},
		{
			name:    "unset backlog mode is rejected",
			req:     &apb.GetLogsRequest{Dn: "root", StreamMode: streamOff},
			wantErr: "backlog_mode",
		},
		{
			name:    "unknown backlog mode is rejected",
			req:     &apb.GetLogsRequest{Dn: "root", BacklogMode: 42, StreamMode: streamOff},
			wantErr: "backlog_mode",
		},
		{
			name:    "zero count is rejected",
			req:     &apb.GetLogsRequest{Dn: "root", BacklogMode: backlogCount, StreamMode: streamOff},
			wantErr: "backlog_count",
		},
		{
			name:    "unset stream mode is rejected",
			req:     &apb.GetLogsRequest{Dn: "root", BacklogMode: backlogAll},
			wantErr: "stream_mode",
		},
		{
			name: "unknown entry kind is rejected",
			req: &apb.GetLogsRequest{Dn: "root", BacklogMode: backlogAll, StreamMode: streamOff, Filter: &apb.LogFilter{
				EntryKind: 9,
			}},
			wantErr: "filter.entry_kind",
		},
		{
			name: "unknown severity is rejected",
			req: &apb.GetLogsRequest{Dn: "root", BacklogMode: backlogAll, StreamMode: streamOff, Filter: &apb.LogFilter{
				MinimumSeverity: 9,
			}},
			wantErr: "filter.minimum_severity",
		},
		{
			name: "minimum severity with raw entries contradicts itself",
			req: &apb.GetLogsRequest{Dn: "root", BacklogMode: backlogAll, StreamMode: streamOff, Filter: &apb.LogFilter{
				EntryKind: apb.LogFilter_ENTRY_KIND_RAW, MinimumSeverity: apb.LogSeverity_LOG_SEVERITY_ERROR,
			}},
			wantErr: "filter.minimum_severity",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLogRead(tc.req)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr+":") {
					t.Fatalf("error %.300v, want one naming %s", err, tc.wantErr)
				}
				if len(err.Error()) > 400 {
					t.Errorf("the error repeats %d bytes: %.200s…", len(err.Error()), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if got != tc.want {
				t.Errorf("read %+v, want %+v", got, tc.want)
			}
		})
	}
}
