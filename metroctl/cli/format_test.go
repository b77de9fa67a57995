package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
)

// exampleNodes are two nodes as the curator might report them, out of ID order.
func exampleNodes() []*apb.Node {
	return []*apb.Node{
		{
			Id: "metropolis-bbbbbbbbbbbbbbbb", State: apb.NodeState_NODE_STATE_NEW,
		},
		{
			Id: "metropolis-aaaaaaaaaaaaaaaa", PublicKey: bytes.Repeat([]byte{0xaa}, 32), State: apb.NodeState_NODE_STATE_UP,
			Roles:  &apb.NodeRoles{ConsensusMember: true, KubernetesWorker: true},
			Labels: map[string]string{"zone": "a", "rack": "r1"},
			Attestation: &apb.NodeAttestation{
				EkFingerprint: []byte{0xab, 0xcd}, EkCertificateIssuer: "CN=vendor", Uki: []byte{1, 2},
				LastAttested: timestamppb.New(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)),
				LastRefusal:  "untrusted release: UKI 0304", LastRefused: timestamppb.New(time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC)),
			},
			Status: &apb.NodeStatus{ExternalAddress: "10.0.0.1", RunningCurator: &apb.NodeStatus_RunningCurator{Port: 7835},
				Timestamp: timestamppb.New(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)),
				Software: &apb.NodeSoftware{Version: "0.2.0", BuildId: "b2", RunningSlot: "A", Slots: []*apb.Slot{
					{Name: "A", State: apb.SlotState_SLOT_STATE_COMMITTED, Version: "0.2.0", BuildId: "b2"},
					{Name: "B", State: apb.SlotState_SLOT_STATE_ROLLED_BACK, Version: "0.3.0", BuildId: "b3",
						RollbackReason: "the node did not rejoin", RollbackLog: []string{"E0101 boom"}},
				}}},
			Health: apb.NodeHealth_NODE_HEALTH_HEALTHY, TimeSinceHeartbeat: durationpb.New(1600 * time.Millisecond),
		},
	}
}

func TestNodeTable(t *testing.T) {
	nodes := exampleNodes()
	sortNodes(nodes)
	var b bytes.Buffer
	if err := writeNodeTable(&b, nodes); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID                           STATE  ADDRESS   HEALTH   HEARTBEAT  ROLES                             VERSION    OTHER SLOT\n" +
		"metropolis-aaaaaaaaaaaaaaaa  UP     10.0.0.1  HEALTHY  2s ago     ConsensusMember,KubernetesWorker  0.2.0 (A)  0.3.0 rolled back\n" +
		"metropolis-bbbbbbbbbbbbbbbb  NEW    -         -        -          -                                 -          -\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestNodeDescription(t *testing.T) {
	var b bytes.Buffer
	if err := writeNodeDescription(&b, exampleNodes()[1], nil, nil); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID:              metropolis-aaaaaaaaaaaaaaaa\n" +
		"Public key:      " + strings.Repeat("aa", 32) + "\n" +
		"State:           UP\n" +
		"Health:          HEALTHY\n" +
		"Last heartbeat:  2s ago\n" +
		"Roles:           ConsensusMember, KubernetesWorker\n" +
		"Address:         10.0.0.1\n" +
		"Curator:         running, port 7835\n" +
		"Status reported: 2025-01-02T03:04:05Z\n" +
		"Labels:          rack=r1\n" +
		"                 zone=a\n" +
		"Version:         0.2.0 (A)\n" +
		"Slots:           A: 0.2.0 committed, running, build b2\n" +
		"                 B: 0.3.0 rolled back, build b3\n" +
		"                    why: the node did not rejoin\n" +
		"                    | E0101 boom\n" +
		"Time:            -\n" +
		"TPM:             EK abcd (EK certificate from CN=vendor)\n" +
		"                 attested at 2025-01-02T03:04:05Z, UKI 0102\n" +
		"                 REFUSED at 2025-01-02T03:04:06Z: untrusted release: UKI 0304\n" +
		"Configuration:   none\n"
	if b.String() != want {
		t.Errorf("description:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestTimeSyncText(t *testing.T) {
	at := timestamppb.New(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		name string
		ts   *apb.TimeSyncStatus
		want string
	}{
		{"an older node", nil, "-"},
		{"the reference", &apb.TimeSyncStatus{Reference: true}, "the cluster's time reference (serves its own clock)"},
		{"synced by a slew", &apb.TimeSyncStatus{Synced: true, Server: "10.0.0.2:123", Stratum: 10, Adjustment: "slew",
			Offset: durationpb.New(1234567 * time.Nanosecond), RootDistance: durationpb.New(400 * time.Microsecond), LastSync: at},
			"synced with 10.0.0.2:123 (stratum 10): 1.235ms off at 2026-12-07T00:00:00Z, slew, within 400µs"},
		{"far off, stepped", &apb.TimeSyncStatus{Synced: true, Server: "10.0.0.2:123", Stratum: 10, Adjustment: "step",
			Offset: durationpb.New(-5 * time.Minute), RootDistance: durationpb.New(time.Millisecond), LastSync: at,
			Warning: "the clock was -5m0s off 10.0.0.2:123's (more than 10s): stepped"},
			"synced with 10.0.0.2:123 (stratum 10): -5m0s off at 2026-12-07T00:00:00Z, step, within 1ms | WARNING: the clock was -5m0s off 10.0.0.2:123's (more than 10s): stepped"},
		{"never answered", &apb.TimeSyncStatus{Error: "no server answered usably: ask 10.0.0.2:123: i/o timeout"},
			"not synced | last poll: no server answered usably: ask 10.0.0.2:123: i/o timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := timeSyncText(tc.ts, " | "); got != tc.want {
				t.Errorf("timeSyncText =\n%q, want\n%q", got, tc.want)
			}
		})
	}
}

func TestNodesAsJSONAndYAML(t *testing.T) {
	nodes := exampleNodes()[:1]
	var j, y bytes.Buffer
	if err := writeProtos(&j, outputJSON, nodes); err != nil {
		t.Fatal(err)
	}
	wantJSON := "[\n  {\n    \"id\": \"metropolis-bbbbbbbbbbbbbbbb\",\n    \"state\": \"NODE_STATE_NEW\"\n  }\n]\n"
	if j.String() != wantJSON {
		t.Errorf("JSON:\n%s\nwant:\n%s", j.String(), wantJSON)
	}
	if err := writeProtos(&y, outputYAML, nodes); err != nil {
		t.Fatal(err)
	}
	wantYAML := "- id: metropolis-bbbbbbbbbbbbbbbb\n  state: NODE_STATE_NEW\n"
	if y.String() != wantYAML {
		t.Errorf("YAML:\n%s\nwant:\n%s", y.String(), wantYAML)
	}
	var empty bytes.Buffer
	writeProtos(&empty, outputJSON, []*apb.Node{})
	if empty.String() != "[]\n" {
		t.Errorf("an empty list is %q in JSON, want []", empty.String())
	}
}

func TestFormatLogEntry(t *testing.T) {
	ts := timestamppb.New(time.Date(2025, 11, 23, 21, 10, 19, 123456789, time.UTC))
	for _, tc := range []struct {
		name  string
		entry *apb.LogEntry
		loc   *time.Location
		want  []string
	}{
		{"leveled entry with source location",
			&apb.LogEntry{Dn: "root.consensus.etcd", Kind: &apb.LogEntry_Leveled{Leveled: &apb.LogEntry_LeveledEntry{
				Lines: []string{"message"}, Timestamp: ts, Severity: apb.LogSeverity_LOG_SEVERITY_INFO, File: "etcd.go", Line: 42}}},
			time.UTC,
			[]string{"I1123 21:10:19.123456 root.consensus.etcd etcd.go:42] message"}},
		{"multi-line warning repeats the header with '|'",
			&apb.LogEntry{Dn: "root.net", Kind: &apb.LogEntry_Leveled{Leveled: &apb.LogEntry_LeveledEntry{
				Lines: []string{"first", "second"}, Timestamp: ts, Severity: apb.LogSeverity_LOG_SEVERITY_WARNING}}},
			time.UTC,
			[]string{"W1123 21:10:19.123456 root.net] first", "W1123 21:10:19.123456 root.net| second"}},
		{"raw line in another time zone",
			&apb.LogEntry{Dn: "root.etcd", Kind: &apb.LogEntry_Raw{Raw: &apb.LogEntry_RawEntry{Data: "raw output", Timestamp: ts}}},
			time.FixedZone("UTC+1", 3600),
			[]string{"R1123 22:10:19.123456 root.etcd] raw output"}},
		{"raw line without a timestamp keeps the columns",
			&apb.LogEntry{Dn: "root.etcd", Kind: &apb.LogEntry_Raw{Raw: &apb.LogEntry_RawEntry{Data: "x"}}},
			time.UTC,
			[]string{"R                     root.etcd] x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := formatLogEntry(tc.entry, tc.loc)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestContextTable(t *testing.T) {
	var b bytes.Buffer
	err := writeContextTable(&b, []contextSummary{
		{Name: "lab", Endpoints: []string{}},
		{Name: "prod", Current: true, Endpoints: []string{"10.0.0.1:7835", "10.0.0.2:7835"},
			CAFingerprint: strings.TrimSuffix(strings.Repeat("AB:", 32), ":"), OwnerCertificateExpiry: "2026-01-01T00:00:00Z"},
		{Name: "broken", Error: "owner key file x is missing"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"CURRENT  NAME    ENDPOINTS                    CA                          OWNER CERTIFICATE\n" +
		"         lab     -                            not pinned                  none\n" +
		"*        prod    10.0.0.1:7835,10.0.0.2:7835  AB:AB:AB:AB:AB:AB:AB:AB...  until 2026-01-01T00:00:00Z\n" +
		"         broken  broken: owner key file x is missing\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
