package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestParseConfigDocument(t *testing.T) {
	version := func(v uint64) *uint64 { return &v }
	for _, tc := range []struct {
		name        string
		doc         string
		wantVersion *uint64
		want        *apb.NodeConfiguration
		wantErr     string // "" for success
	}{
		{"YAML with a version", "version: 3\nconfiguration:\n  ntp_servers: [a.example.com, b.example.com]\n",
			version(3), &apb.NodeConfiguration{NtpServers: []string{"a.example.com", "b.example.com"}}, ""},
		{"JSON without a version", `{"configuration": {"nameservers": ["10.0.0.1"]}}`,
			nil, &apb.NodeConfiguration{Nameservers: []string{"10.0.0.1"}}, ""},
		{"comments are ignored", "# node x, version 1\nversion: 1 # read then\nconfiguration: {}\n",
			version(1), &apb.NodeConfiguration{}, ""},
		{"an empty configuration is one", "configuration:\n", nil, &apb.NodeConfiguration{}, ""},
		{"camelCase names are protojson's too", "configuration:\n  kubelet:\n    systemReserved: {cpu: 500m}\n",
			nil, &apb.NodeConfiguration{Kubelet: &apb.KubeletConfiguration{SystemReserved: map[string]string{"cpu": "500m"}}}, ""},
		{"nested messages and maps", "configuration:\n  kubernetes:\n    labels: {rack: r1}\n    taints:\n    - {key: dedicated, value: db, effect: NoSchedule}\n",
			nil, &apb.NodeConfiguration{Kubernetes: &apb.KubernetesNodeConfiguration{
				Labels: map[string]string{"rack": "r1"},
				Taints: []*apb.Taint{{Key: "dedicated", Value: "db", Effect: "NoSchedule"}},
			}}, ""},
		{"a network", "configuration:\n  network:\n    uplink:\n      static: {addresses: [10.0.0.5/24], gateways: [10.0.0.1]}\n    mtu: 9000\n" +
			"    vlans:\n    - {id: 100, addresses: [10.1.0.5/24], mtu: 1500}\n    routes:\n    - {destination: 198.51.100.0/24, gateway: 10.1.0.1}\n",
			nil, &apb.NodeConfiguration{Network: &apb.NodeNetwork{
				Uplink: &apb.NetworkConfig{Mode: &apb.NetworkConfig_Static{Static: &apb.NetworkConfig_StaticMode{Addresses: []string{"10.0.0.5/24"}, Gateways: []string{"10.0.0.1"}}}},
				Mtu:    9000,
				Vlans:  []*apb.VlanLink{{Id: 100, Addresses: []string{"10.1.0.5/24"}, Mtu: 1500}},
				Routes: []*apb.NetworkRoute{{Destination: "198.51.100.0/24", Gateway: "10.1.0.1"}},
			}}, ""},
		{"the largest version", "version: 18446744073709551615\nconfiguration: {}\n", version(1<<64 - 1), &apb.NodeConfiguration{}, ""},

		{"an unknown top-level field", "versoin: 3\nconfiguration: {}\n", nil, nil, `unknown field "versoin": the document has only version and configuration`},
		{"an unknown configuration field", "configuration:\n  ntp_server: [a]\n", nil, nil, `configuration: unknown field "ntp_server"`},
		{"an unknown field deep down", "configuration:\n  kubernetes:\n    taints:\n    - {key: a, efect: NoSchedule}\n", nil, nil, `configuration.kubernetes.taints[0]: unknown field "efect"`},
		{"a long unknown field is cut", "configuration:\n  " + strings.Repeat("x", 500) + ": 1\n", nil, nil, `configuration: unknown field "` + strings.Repeat("x", 80) + `"`},
		{"a string for a list", "configuration:\n  ntp_servers: a.example.com\n", nil, nil, `configuration.ntp_servers: want a list, got the string "a.example.com"`},
		{"a number for a string", "configuration:\n  kubelet:\n    eviction_hard: {memory.available: 5}\n", nil, nil, `configuration.kubelet.eviction_hard["memory.available"]: want a string, got the number 5`},
		{"a list for a message", "configuration:\n  kubernetes: []\n", nil, nil, `configuration.kubernetes: want a mapping of KubernetesNodeConfiguration's fields, got a list`},
		{"no configuration", "version: 1\n", nil, nil, "the document has no configuration"},
		{"a trial", "version: 1\nconfiguration: {}\ntrial: {version: 2}\n", nil, nil, "trial: the document holds a node's trial, which get shows for reading only and apply does not take"},
		{"an uplink both static and DHCP", "configuration:\n  network:\n    uplink: {dhcp: {}, static: {}}\n", nil, nil, "configuration: "},
		{"a VLAN ID as a string of letters", "configuration:\n  network:\n    vlans: [{id: ten}]\n", nil, nil, "configuration: "},
		{"an empty file", "", nil, nil, "the document must be a mapping"},
		{"a list", "- a\n", nil, nil, "the document must be a mapping"},
		{"a negative version", "version: -1\nconfiguration: {}\n", nil, nil, "version: want a whole number of at least 0, got -1"},
		{"a duplicate key", "configuration:\n  ntp_servers: [a]\n  ntp_servers: [b]\n", nil, nil, `"ntp_servers" already set`},
		{"not YAML", "configuration: [\n", nil, nil, "yaml: line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := parseConfigDocument([]byte(tc.doc), &apb.NodeConfiguration{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if (doc.Version == nil) != (tc.wantVersion == nil) || (doc.Version != nil && *doc.Version != *tc.wantVersion) {
				t.Errorf("version %v, want %v", doc.Version, tc.wantVersion)
			}
			if !proto.Equal(doc.Configuration, tc.want) {
				t.Errorf("configuration %v, want %v", doc.Configuration, tc.want)
			}
		})
	}
}

func TestParseConfigDocumentBoundsSize(t *testing.T) {
	big := "configuration:\n  ntp_servers:\n" + strings.Repeat("  - a.example.com\n", maxConfigDocument/16)
	if _, err := parseConfigDocument([]byte(big), &apb.NodeConfiguration{}); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("a document of %d bytes: got %v, want it refused for its size", len(big), err)
	}
}

func TestMarshalConfigDocument(t *testing.T) {
	cfg := &apb.NodeConfiguration{
		NtpServers: []string{"a.example.com"},
		Kubernetes: &apb.KubernetesNodeConfiguration{Labels: map[string]string{"on": "yes", "b": "1"}},
	}
	y, err := marshalConfigDocument(outputYAML, 7, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantYAML := "version: 7\nconfiguration:\n  kubernetes:\n    labels:\n      b: \"1\"\n      \"on\": \"yes\"\n  ntp_servers:\n  - a.example.com\n"
	if string(y) != wantYAML {
		t.Errorf("YAML:\n%s\nwant:\n%s", y, wantYAML)
	}
	j, err := marshalConfigDocument(outputJSON, 7, &apb.NodeConfiguration{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"version\": 7,\n  \"configuration\": {}\n}\n"; string(j) != want {
		t.Errorf("JSON %q, want %q", j, want)
	}
	for _, data := range [][]byte{y, j} {
		doc, err := parseConfigDocument(data, &apb.NodeConfiguration{})
		if err != nil {
			t.Fatalf("what marshal wrote does not parse: %v\n%s", err, data)
		}
		if *doc.Version != 7 {
			t.Errorf("version %d after a round trip, want 7", *doc.Version)
		}
	}
}

// A trial is comments in YAML, so the document parses as without it, whatever the trial
// holds; in JSON it is a field, which parse refuses.
func TestMarshalDocumentWithTrial(t *testing.T) {
	cfg := &apb.NodeConfiguration{NtpServers: []string{"a.example.com"}}
	trial := &apb.TrialNodeConfiguration{
		Version: 8, Configuration: networkConfiguration(),
		Expires:   timestamppb.New(time.Date(2026, 12, 7, 12, 1, 0, 0, time.UTC)),
		Changed:   timestamppb.New(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)),
		ChangedBy: "owner\nversion: 99\rconfiguration: {}\u2028x: 1\u0085\x7f",
	}
	y, err := marshalDocument(outputYAML, 7, cfg, trial, "metroctl node config confirm n")
	if err != nil {
		t.Fatal(err)
	}
	wantStart := "# Trial: version 8 (changed 2026-12-07T12:00:00Z by owner\n# version: 99\\u000dconfiguration: {}\\u2028x: 1\\u0085\\u007f), expires 2026-12-07T12:01:00Z."
	if !strings.HasPrefix(string(y), wantStart) || !strings.Contains(string(y), "#   metroctl node config confirm n --version 8\n") || !strings.Contains(string(y), "\n#   network:\n#     mtu: 9000\n") {
		t.Errorf("YAML:\n%s\nwant it to start with\n%s", y, wantStart)
	}
	doc, err := parseConfigDocument(y, &apb.NodeConfiguration{})
	if err != nil || *doc.Version != 7 || !proto.Equal(doc.Configuration, cfg) {
		t.Errorf("the YAML with a trial parses as %v, %v; want version 7 and %v", doc, err, cfg)
	}
	j, err := marshalDocument(outputJSON, 7, cfg, trial, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(j), `"trial": {`) {
		t.Errorf("JSON without the trial:\n%s", j)
	}
	if _, err := parseConfigDocument(j, &apb.NodeConfiguration{}); !errors.Is(err, errTrialInDocument) {
		t.Errorf("the JSON with a trial: %v, want errTrialInDocument", err)
	}
}

func TestConfigDiff(t *testing.T) {
	a := &apb.NodeConfiguration{NtpServers: []string{"a.example.com"}}
	b := &apb.NodeConfiguration{NtpServers: []string{"b.example.com"}}
	if d, err := configDiff(a, proto.Clone(a), "old", "new"); err != nil || d != "" {
		t.Errorf("diff of equal configurations: %q, %v; want none", d, err)
	}
	d, err := configDiff(a, b, "old", "new")
	if err != nil {
		t.Fatal(err)
	}
	want := "--- old\n+++ new\n@@ -1,2 +1,2 @@\n ntp_servers:\n-- a.example.com\n+- b.example.com\n"
	if d != want {
		t.Errorf("diff %q, want %q", d, want)
	}
}

// FuzzParseConfigDocument checks that no input panics the parser, that its errors stay short
// whatever the input quotes, and that what parses survives a round trip through what get
// prints, in YAML and in JSON.
func FuzzParseConfigDocument(f *testing.F) {
	for _, seed := range []string{
		"version: 3\nconfiguration:\n  ntp_servers: [a.example.com]\n",
		`{"version": 1, "configuration": {"nameservers": ["10.0.0.1"], "kubelet": {"eviction_hard": {"memory.available": "5%"}}}}`,
		"configuration:\n  kubernetes:\n    labels: {\"on\": \"yes\", \"1\": \"0x10\"}\n    taints:\n    - {key: a, value: b, effect: NoExecute}\n",
		"configuration:\n  node_defaults:\n    kubernetes_rules:\n    - node_selector: {a: b}\n      consensus_member: false\n  attestation: {required: true}\n",
		"configuration: &a {}\nversion: *a\n",
		"configuration:\n  network:\n    uplink: {static: {addresses: [10.0.0.5/24]}}\n    mtu: 9000\n    vlans: [{id: 100, addresses: [10.1.0.5/24]}]\n    routes: [{destination: 0.0.0.0/0, gateway: 10.1.0.1}]\n",
		"configuration:\n  network: {uplink: {dhcp: {}}}\n",
		"version: 1\nconfiguration: {}\ntrial: {version: \"2\"}\n",
		"configuration:\n  ntp_servers: [\"\\xff\"]\n",
		// DEL is fine in JSON but refused by YAML unescaped: rendering must escape it.
		"configuration:\n ntp_servers: [\"\\x7f\"]",
		"- 1\n",
		"",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, cluster bool) {
		var empty proto.Message = &apb.NodeConfiguration{}
		if cluster {
			empty = &apb.ClusterConfiguration{}
		}
		doc, err := parseConfigDocument(data, empty)
		if err != nil {
			if len(err.Error()) > maxDocumentError {
				t.Fatalf("error of %d bytes, more than %d: %.200s", len(err.Error()), maxDocumentError, err)
			}
			return
		}
		var version uint64
		if doc.Version != nil {
			version = *doc.Version
		}
		for _, format := range []outputFormat{outputYAML, outputJSON} {
			out, err := marshalConfigDocument(format, version, doc.Configuration)
			if err != nil {
				t.Fatalf("marshal what parsed as %s: %v", format, err)
			}
			again, err := parseConfigDocument(out, empty)
			if err != nil {
				t.Fatalf("what marshal wrote as %s does not parse: %v\n%s", format, err, out)
			}
			if *again.Version != version || !proto.Equal(again.Configuration, doc.Configuration) {
				t.Fatalf("round trip through %s changed the document:\n%s\nto version %d, %v", format, out, *again.Version, again.Configuration)
			}
		}
		// With a trial (holding this configuration if a node's, and the input as who changed
		// it): in YAML only comments, which change nothing; in JSON a field, which is refused.
		trial := &apb.TrialNodeConfiguration{Version: version + 1, ChangedBy: strings.ToValidUTF8(string(data), "?")}
		if c, ok := doc.Configuration.(*apb.NodeConfiguration); ok {
			trial.Configuration = c
		}
		out, err := marshalDocument(outputYAML, version, doc.Configuration, trial, "metroctl node config confirm n")
		if err != nil {
			t.Fatalf("marshal with a trial: %v", err)
		}
		again, err := parseConfigDocument(out, empty)
		if err != nil || *again.Version != version || !proto.Equal(again.Configuration, doc.Configuration) {
			t.Fatalf("the trial's comments changed the document:\n%s\nto %v, %v", out, again, err)
		}
		if out, err = marshalDocument(outputJSON, version, doc.Configuration, trial, ""); err != nil {
			t.Fatalf("marshal with a trial as JSON: %v", err)
		}
		if _, err := parseConfigDocument(out, empty); !errors.Is(err, errTrialInDocument) {
			t.Fatalf("the trial in JSON: %v, want errTrialInDocument\n%s", err, out)
		}
	})
}
