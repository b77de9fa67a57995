package cli

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

func TestParseRole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want role // 0: refused
	}{
		{"ConsensusMember", roleConsensusMember},
		{"consensusmember", roleConsensusMember},
		{"consensus-member", roleConsensusMember},
		{"CONSENSUS_MEMBER", roleConsensusMember},
		{"consensus", roleConsensusMember},
		{"KubernetesController", roleKubernetesController},
		{"controller", roleKubernetesController},
		{"kubernetes-worker", roleKubernetesWorker},
		{"Worker", roleKubernetesWorker},
		{"etcd", 0},
		{"", 0},
		{"kubernetes", 0},
	} {
		got, err := parseRole(tc.in)
		if tc.want == 0 {
			if err == nil || !strings.Contains(err.Error(), "want ConsensusMember") {
				t.Errorf("parseRole(%q) = %v, %v; want an error listing the roles", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseRole(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseNodeState(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    apb.NodeState
		refused bool
	}{
		{"NEW", apb.NodeState_NODE_STATE_NEW, false},
		{"standby", apb.NodeState_NODE_STATE_STANDBY, false},
		{"Up", apb.NodeState_NODE_STATE_UP, false},
		{"NODE_STATE_DECOMMISSIONED", apb.NodeState_NODE_STATE_DECOMMISSIONED, false},
		{"UNSPECIFIED", 0, true},
		{"running", 0, true},
		{"", 0, true},
	} {
		got, err := parseNodeState(tc.in)
		if tc.refused != (err != nil) || got != tc.want {
			t.Errorf("parseNodeState(%q) = %v, %v; want %v, refused %v", tc.in, got, err, tc.want, tc.refused)
		}
	}
}

func TestParseSeverity(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    apb.LogSeverity
		refused bool
	}{
		{"WARNING", apb.LogSeverity_LOG_SEVERITY_WARNING, false},
		{"warning", apb.LogSeverity_LOG_SEVERITY_WARNING, false},
		{"e", apb.LogSeverity_LOG_SEVERITY_ERROR, false},
		{"INFO", apb.LogSeverity_LOG_SEVERITY_INFO, false},
		{"fatal", apb.LogSeverity_LOG_SEVERITY_FATAL, false},
		{"WARN", 0, true},
		{"UNSPECIFIED", 0, true},
	} {
		got, err := parseSeverity(tc.in)
		if tc.refused != (err != nil) || got != tc.want {
			t.Errorf("parseSeverity(%q) = %v, %v; want %v, refused %v", tc.in, got, err, tc.want, tc.refused)
		}
	}
}

func TestParseLabelArgs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantUpsert map[string]string
		wantRemove []string
		wantErr    string
	}{
		{"set and remove", []string{"rack=r1", "zone-"}, map[string]string{"rack": "r1"}, []string{"zone"}, ""},
		{"prefixed key", []string{"example.com/tier=db"}, map[string]string{"example.com/tier": "db"}, nil, ""},
		{"empty value", []string{"flag="}, map[string]string{"flag": ""}, nil, ""},
		{"same removal twice counts once", []string{"a-", "a-"}, map[string]string{}, []string{"a"}, ""},
		{"a value with '=' inside is refused", []string{"a=b=c"}, nil, nil, `value "b=c"`},
		{"neither set nor remove", []string{"rack"}, nil, nil, "want key=value to set or key- to remove"},
		{"key with a space", []string{"my key=1"}, nil, nil, `label key "my key"`},
		{"uppercase prefix", []string{"Example.com/a=1"}, nil, nil, "not a lowercase DNS subdomain"},
		{"name too long", []string{strings.Repeat("a", 64) + "=1"}, nil, nil, "1 to 63"},
		{"value too long", []string{"a=" + strings.Repeat("v", 64)}, nil, nil, "at most 63"},
		{"value ending in a dash", []string{"a=v-"}, nil, nil, `value "v-"`},
		{"set and removed at once", []string{"a=1", "a-"}, nil, nil, "both set and removed"},
		{"two values for one key", []string{"a=1", "a=2"}, nil, nil, "two values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upsert, remove, err := parseLabelArgs(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("got %v, %v, %v; want error with %q", upsert, remove, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(upsert, tc.wantUpsert) || !reflect.DeepEqual(remove, tc.wantRemove) {
				t.Errorf("got %v, %v, %v; want %v, %v", upsert, remove, err, tc.wantUpsert, tc.wantRemove)
			}
		})
	}
}

func TestParseOutputFormat(t *testing.T) {
	for _, ok := range []string{"table", "json", "yaml"} {
		if f, err := parseOutputFormat(ok); err != nil || string(f) != ok {
			t.Errorf("parseOutputFormat(%q) = %q, %v", ok, f, err)
		}
	}
	for _, bad := range []string{"", "JSON", "xml", "wide"} {
		if _, err := parseOutputFormat(bad); err == nil || !strings.Contains(err.Error(), "want table, json or yaml") {
			t.Errorf("parseOutputFormat(%q) = %v, want refusal", bad, err)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	pub, _, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(t.TempDir(), "node.pub")
	pemData, _ := identity.MarshalPublicKeyPEM(pub)
	os.WriteFile(pemFile, pemData, 0o644)
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"hex", hex.EncodeToString(pub), true},
		{"base64", base64.StdEncoding.EncodeToString(pub), true},
		{"PEM file", pemFile, true},
		{"short hex", hex.EncodeToString(pub[:31]), false},
		{"missing file", filepath.Join(t.TempDir(), "nope"), false},
	} {
		got, err := parsePublicKey(tc.in)
		if tc.ok && (err != nil || !got.Equal(pub)) {
			t.Errorf("%s: got %x, %v; want the key", tc.name, got, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: accepted %q", tc.name, tc.in)
		}
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	canonical := strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"canonical", canonical, true},
		{"lowercase without colons", strings.Repeat("ab", 32), true},
		{"with an SHA256: prefix", "SHA256:" + canonical, true},
		{"with surrounding space", "  " + canonical + "\n", true},
		{"too short", strings.Repeat("ab", 31), false},
		{"not hex", strings.Repeat("zz", 32), false},
	} {
		got, err := normalizeFingerprint(tc.in)
		if tc.ok && (err != nil || got != canonical) {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, canonical)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: accepted %q", tc.name, tc.in)
		}
	}
}

func TestLogsOptionsRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    logsOptions
		want    *apb.GetLogsRequest
		wantErr string
	}{
		{"defaults: whole tree, all stored entries, no streaming", logsOptions{backlog: -1},
			&apb.GetLogsRequest{BacklogMode: apb.GetLogsRequest_BACKLOG_MODE_ALL, StreamMode: apb.GetLogsRequest_STREAM_MODE_DISABLE, Filter: &apb.LogFilter{WithChildren: true}}, ""},
		{"follow only new entries of one DN", logsOptions{follow: true, exact: true, dn: "root.net", backlog: 0},
			&apb.GetLogsRequest{Dn: "root.net", BacklogMode: apb.GetLogsRequest_BACKLOG_MODE_NONE, StreamMode: apb.GetLogsRequest_STREAM_MODE_UNBUFFERED, Filter: &apb.LogFilter{}}, ""},
		{"last 5 errors", logsOptions{backlog: 5, severity: "ERROR"},
			&apb.GetLogsRequest{BacklogMode: apb.GetLogsRequest_BACKLOG_MODE_COUNT, BacklogCount: 5, StreamMode: apb.GetLogsRequest_STREAM_MODE_DISABLE, Filter: &apb.LogFilter{WithChildren: true, MinimumSeverity: apb.LogSeverity_LOG_SEVERITY_ERROR}}, ""},
		{"no backlog without follow shows nothing", logsOptions{backlog: 0}, nil, "would show nothing"},
		{"unknown severity", logsOptions{backlog: -1, severity: "loud"}, nil, "--severity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.opts.request()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("got %v, %v; want error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !proto.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
