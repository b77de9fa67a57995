package cli

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
)

// confirmVersions are the versions of the ConfirmNodeConfiguration calls so far, the probe
// for trials (version 0) included.
func (f *fakeCluster) confirmVersions() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var versions []uint64
	for _, r := range f.requests {
		if c, ok := r.(*apb.ConfirmNodeConfigurationRequest); ok {
			versions = append(versions, c.Version)
		}
	}
	return versions
}

func TestNodeConfigTryFlags(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	file := writeFile(t, "node.yaml", "configuration:\n  ntp_servers: [b.example.com]\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"too short", []string{"--try", "9s"}, `invalid argument "9s" for "--try" flag: want 10s to 1h0m0s`},
		{"too long", []string{"--try", "61m"}, `invalid argument "61m" for "--try" flag: want 10s to 1h0m0s`},
		{"zero", []string{"--try", "0"}, `invalid argument "0" for "--try" flag: want 10s to 1h0m0s`},
		{"no unit", []string{"--try", "30"}, `invalid argument "30" for "--try" flag: want a duration such as 90s or 5m`},
		{"confirm without try", []string{"--confirm"}, "--confirm confirms a trial, and needs --try"},
		{"confirm with a dry run", []string{"--try", "30s", "--confirm", "--dry-run"}, "[confirm dry-run] were all set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.run("", append([]string{"node", "config", "apply", id, "-f", file}, tc.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("want an error containing %q:\n%v", tc.want, r)
			}
		})
	}
	if calls := e.cluster.recorded(); len(calls) != 0 {
		t.Errorf("a refused flag reached the cluster: %v", calls)
	}
}

func TestNodeConfigApplyTry(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	e.cluster.setNodeConfig(id, 1, &apb.NodeConfiguration{NtpServers: []string{"a.example.com"}})
	file := writeFile(t, "node.yaml", "configuration:\n  ntp_servers: [b.example.com]\n")

	r := e.run("", "node", "config", "apply", id, "-f", file, "--try", "30s")
	if r.code != 0 {
		t.Fatalf("apply --try:\n%v", r)
	}
	for _, want := range []string{
		"-- a.example.com\n+- b.example.com\n",
		"Trial stored: node " + id + " tries version 2 of its configuration, and goes back to version 1 by itself unless the trial is confirmed by ",
		"Node " + id + " runs configuration version 2 and reaches the cluster with it.\n",
		"It goes back to version 1 by itself when the trial expires at ",
		"\n  metroctl node config confirm " + id + " --version 2\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("apply --try printed no %q:\n%s", want, r.stdout)
		}
	}
	req := e.cluster.lastRequest().(*apb.ConfigureNodeRequest)
	if req.GetTryDuration().AsDuration() != 30*time.Second || req.ExpectedVersion != 1 {
		t.Errorf("ConfigureNode got try_duration %v, expected_version %d; want 30s, 1", req.GetTryDuration().AsDuration(), req.ExpectedVersion)
	}
	if v := e.cluster.confirmVersions(); !slices.Equal(v, []uint64{0}) {
		t.Errorf("confirmations %v, want only the probe for trials (0)", v)
	}
	st := e.cluster.storedNodeConfig(id)
	if st.Version != 1 || st.Trial.GetVersion() != 2 || !slices.Equal(st.Trial.GetConfiguration().GetNtpServers(), []string{"b.example.com"}) {
		t.Errorf("stored %v, want version 1 with trial version 2", st)
	}

	// While it runs, nothing else changes, and the curator's words are not said twice.
	other := writeFile(t, "other.yaml", "configuration:\n  ntp_servers: [c.example.com]\n")
	r = e.run("", "node", "config", "apply", id, "-f", other)
	if want := "configure node " + id + ": not possible in the current state: the node is trying version 2 until "; r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("a change during a trial: want %q:\n%v", want, r)
	}

	r = e.run("", "node", "config", "confirm", id)
	if want := "Confirmed: node " + id + " keeps configuration version 2.\n"; r.code != 0 || r.stdout != want {
		t.Errorf("confirm printed %q, want %q:\n%v", r.stdout, want, r)
	}
	if st := e.cluster.storedNodeConfig(id); st.Version != 2 || st.Trial != nil {
		t.Errorf("after confirm: stored %v, want version 2 without a trial", st)
	}
	// Again, by version: already confirmed, no error.
	if r := e.run("", "node", "config", "confirm", id, "--version", "2"); r.code != 0 || !strings.Contains(r.stdout, "keeps configuration version 2") {
		t.Errorf("confirming a confirmed version:\n%v", r)
	}
}

func TestNodeConfigApplyTryConfirm(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	file := writeFile(t, "node.yaml", "configuration:\n  network:\n    mtu: 9000\n")
	r := e.run("", "node", "config", "apply", id, "-f", file, "--try", "1m", "--confirm")
	if r.code != 0 || !strings.Contains(r.stdout, "runs configuration version 1 and reaches the cluster") || !strings.Contains(r.stdout, "Confirmed: node "+id+" keeps configuration version 1.") {
		t.Fatalf("apply --try --confirm:\n%v", r)
	}
	if v := e.cluster.confirmVersions(); !slices.Equal(v, []uint64{0, 1}) {
		t.Errorf("confirmations %v, want the probe (0), then version 1", v)
	}
	if st := e.cluster.storedNodeConfig(id); st.Version != 1 || st.Trial != nil || st.Configuration.GetNetwork().GetMtu() != 9000 {
		t.Errorf("stored %v, want version 1 with MTU 9000 and no trial", st)
	}
}

func TestNodeConfigEditTry(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	e.cluster.setNodeConfig(id, 3, &apb.NodeConfiguration{NtpServers: []string{"a.example.com"}})
	r := runMetroctlEnv(t, e.dir, e.cluster.port, "", map[string]string{"EDITOR": editorScript(t, `sed -i.orig 's/a\.example\.com/b.example.com/' "$1"`)},
		"node", "config", "edit", id, "--try", "10s", "--confirm")
	if r.code != 0 || !strings.Contains(r.stdout, "Trial stored: node "+id+" tries version 4") || !strings.Contains(r.stdout, "keeps configuration version 4") {
		t.Fatalf("edit --try --confirm:\n%v", r)
	}
	if st := e.cluster.storedNodeConfig(id); st.Version != 4 || !slices.Equal(st.Configuration.NtpServers, []string{"b.example.com"}) {
		t.Errorf("stored %v, want version 4 with b.example.com", st)
	}
}

func TestNodeConfigTryOnClusterWithoutTrials(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	e.cluster.noTrials = true
	file := writeFile(t, "node.yaml", "configuration:\n  ntp_servers: [b.example.com]\n")
	for _, args := range [][]string{{"--try", "30s"}, {"--try", "30s", "--dry-run"}} {
		r := e.run("", append([]string{"node", "config", "apply", id, "-f", file}, args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "this cluster does not support trying a configuration (--try); nothing was changed") {
			t.Errorf("%v on a cluster without trials must be refused:\n%v", args, r)
		}
	}
	// It would have stored the configuration for good.
	if calls := e.cluster.callsOf("ConfigureNode"); len(calls) != 0 {
		t.Errorf("ConfigureNode was called: %v", calls)
	}
}

// A node that does not report its trial: the command waits until the trial expires, says so,
// and fails. The trial here was stored earlier with seconds left, so that the wait is short.
func TestNodeConfigTryNotReported(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	e.cluster.trialCutOff = true
	e.cluster.setNodeConfig(id, 1, &apb.NodeConfiguration{})
	e.cluster.setNodeTrial(id, &apb.TrialNodeConfiguration{
		Version: 2, Configuration: &apb.NodeConfiguration{NtpServers: []string{"b.example.com"}},
		Duration: durationpb.New(30 * time.Second), Expires: timestamppb.New(time.Now().Add(1500 * time.Millisecond)),
		Changed: timestamppb.New(fakeConfigTime), ChangedBy: "owner",
	}, false)
	e.cluster.setNodeConfigStatus(id, &apb.NodeConfigurationStatus{NodeVersion: 1, Reverted: "version 2 reverted at 2026-12-07T12:00:00Z: not confirmed within 30s"})
	file := writeFile(t, "node.yaml", "configuration:\n  ntp_servers: [b.example.com]\n")

	r := e.run("", "node", "config", "apply", id, "-f", file, "--try", "30s", "--confirm")
	for _, want := range []string{"Trial already stored: node " + id + " tries this configuration as version 2, until "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%v", want, r)
		}
	}
	for _, want := range []string{
		"waiting for node " + id + " to report trial version 2 (",
		"s left; it follows version 1; it last went back from a trial: version 2 reverted at",
		"node " + id + " did not report running trial version 2 within ",
		"so the trial cannot be confirmed; the node goes back to version 1 by itself when the trial expires (",
	} {
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%v", want, r)
		}
	}
	if v := e.cluster.confirmVersions(); !slices.Equal(v, []uint64{0}) {
		t.Errorf("confirmations %v, want only the probe", v)
	}
}

func TestWaitForTrialReport(t *testing.T) {
	unavailable := errors.New("connection refused")
	for _, tc := range []struct {
		name     string
		reports  []*apb.NodeConfigurationStatus // nil: the look fails
		wait     time.Duration
		wantErr  error
		progress []string
	}{
		{"reported at once", []*apb.NodeConfigurationStatus{{NodeVersion: 3, TrialVersion: 4}}, time.Minute, nil, nil},
		{"reported after a failed look and an old report",
			[]*apb.NodeConfigurationStatus{nil, {NodeVersion: 3}, {NodeVersion: 3, TrialVersion: 4}}, time.Minute, nil,
			[]string{"(1m0s left; the cluster did not answer: connection refused)", "left; it follows version 3)"}},
		{"never reported", []*apb.NodeConfigurationStatus{{NodeVersion: 3, TrialVersion: 2}}, 50 * time.Millisecond, errTrialNotReported,
			[]string{"waiting for node n to report trial version 4 (", "; it follows version 3, trial version 2)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			looks := 0
			look := func(context.Context) (*apb.NodeConfigurationStatus, error) {
				cs := tc.reports[min(looks, len(tc.reports)-1)]
				looks++
				if cs == nil {
					return nil, unavailable
				}
				return cs, nil
			}
			var progress bytes.Buffer
			_, err := waitForTrialReport(context.Background(), &progress, "n", 4, tc.wait, 10*time.Millisecond, look)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			for _, want := range tc.progress {
				if !strings.Contains(progress.String(), want) {
					t.Errorf("progress lacks %q:\n%s", want, progress.String())
				}
			}
			if tc.progress == nil && progress.Len() != 0 {
				t.Errorf("progress %q, want none", progress.String())
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := waitForTrialReport(ctx, &bytes.Buffer{}, "n", 4, time.Minute, time.Millisecond, func(context.Context) (*apb.NodeConfigurationStatus, error) {
		return nil, context.Canceled
	}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled wait: %v, want context.Canceled", err)
	}
}

func TestNodeConfigConfirm(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	e.cluster.setNodeConfig(id, 1, &apb.NodeConfiguration{})
	if r := e.run("", "node", "config", "confirm", id); r.code == 0 || !strings.Contains(r.stderr, "node "+id+" has no trial configuration; its version is 1") {
		t.Errorf("confirm without a trial:\n%v", r)
	}
	if r := e.run("", "node", "config", "confirm", id, "--version", "0"); r.code == 0 || !strings.Contains(r.stderr, "--version 0: want the trial's version") {
		t.Errorf("--version 0:\n%v", r)
	}
	e.cluster.setNodeTrial(id, &apb.TrialNodeConfiguration{
		Version: 2, Configuration: &apb.NodeConfiguration{NtpServers: []string{"b.example.com"}},
		Duration: durationpb.New(time.Minute), Expires: timestamppb.New(time.Now().Add(time.Minute)),
	}, false)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "confirm the configuration of node " + id + ": not possible in the current state: the node has not reported running version 2 (it reports trial version 0)"},
		{[]string{"--version", "3"}, "confirm the configuration of node " + id + ": not possible in the current state: no trial of version 3"},
	} {
		if r := e.run("", append([]string{"node", "config", "confirm", id}, tc.args...)...); r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("confirm %v: want %q:\n%v", tc.args, tc.want, r)
		}
	}
	if st := e.cluster.storedNodeConfig(id); st.Version != 1 || st.Trial == nil {
		t.Errorf("a refused confirmation changed the configuration: %v", st)
	}
}

// trialDocument is a node configuration at version 1 with a trial of version 2.
func trialDocument(e *testEnv, id string) {
	e.cluster.setNodeConfig(id, 1, &apb.NodeConfiguration{NtpServers: []string{"a.example.com"}})
	e.cluster.setNodeTrial(id, &apb.TrialNodeConfiguration{
		Version: 2, Configuration: &apb.NodeConfiguration{NtpServers: []string{"b.example.com"}},
		Duration: durationpb.New(time.Minute), Expires: timestamppb.New(time.Date(2026, 12, 7, 12, 1, 0, 0, time.UTC)),
		Changed: timestamppb.New(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)), ChangedBy: "owner",
	}, true)
}

func TestNodeConfigGetWithTrial(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	trialDocument(e, id)

	r := e.run("", "node", "config", "get", id)
	want := "# node " + id + ", version 1 (changed 2025-11-23T21:10:19Z by owner)\n" +
		"# Trial: version 2 (changed 2026-12-07T12:00:00Z by owner), expires 2026-12-07T12:01:00Z. The node follows it until then, and\n" +
		"# goes back to the configuration below unless it is confirmed:\n" +
		"#   metroctl node config confirm " + id + " --version 2\n" +
		"# The trial's configuration, for reading only: apply and edit take the document below.\n" +
		"#   ntp_servers:\n" +
		"#   - b.example.com\n" +
		"version: 1\n" +
		"configuration:\n" +
		"  ntp_servers:\n" +
		"  - a.example.com\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("get printed:\n%s\nwant:\n%s\n%v", r.stdout, want, r)
	}
	// What get printed applies as the stored configuration: the trial is comments.
	if r := e.run("", "node", "config", "apply", id, "-f", writeFile(t, "node.yaml", r.stdout)); r.code != 0 || !strings.Contains(r.stdout, "No change: the configuration of node "+id+" is already this (version 1).") {
		t.Errorf("applying get's YAML:\n%v", r)
	}

	r = e.run("", "node", "config", "get", id, "-o", "json")
	for _, want := range []string{`"version": 1,`, `"trial": {`, `"version": "2"`, `"expires": "2026-12-07T12:01:00Z"`, `"b.example.com"`} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("get -o json lacks %s:\n%v", want, r)
		}
	}
	// JSON has no comments: its trial is a field, which apply refuses.
	if r := e.run(r.stdout, "node", "config", "apply", id, "-f", "-"); r.code == 0 || !strings.Contains(r.stderr, "trial: the document holds a node's trial, which get shows for reading only and apply does not take") {
		t.Errorf("applying get's JSON with a trial:\n%v", r)
	}
	if calls := e.cluster.callsOf("ConfigureNode"); len(calls) != 0 {
		t.Errorf("ConfigureNode was called: %v", calls)
	}
}

func TestNodeDescribeTrial(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	trialDocument(e, id)
	r := e.run("", "node", "describe", id)
	if want := "Trial:           version 2, expires 2026-12-07T12:01:00Z; the node runs it\n"; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("describe lacks %q:\n%v", want, r)
	}
	if strings.Contains(r.stdout, "Reverted:") {
		t.Errorf("describe shows a revert the node did not report:\n%s", r.stdout)
	}

	e.cluster.setNodeConfig(id, 1, &apb.NodeConfiguration{})
	e.cluster.setNodeConfigStatus(id, &apb.NodeConfigurationStatus{NodeVersion: 1, Reverted: "version 2 reverted at 2026-12-07T12:01:00Z: not confirmed within 1m0s"})
	r = e.run("", "node", "describe", id)
	if want := "Reverted:        version 2 reverted at 2026-12-07T12:01:00Z: not confirmed within 1m0s\n"; r.code != 0 || !strings.Contains(r.stdout, want) || strings.Contains(r.stdout, "Trial:") {
		t.Errorf("describe lacks %q, or shows a trial:\n%v", want, r)
	}
}

func TestTrialText(t *testing.T) {
	expires := timestamppb.New(time.Date(2026, 12, 7, 12, 1, 0, 0, time.UTC))
	stored := &apb.StoredNodeConfiguration{Version: 1, Trial: &apb.TrialNodeConfiguration{Version: 2, Expires: expires}}
	for _, tc := range []struct {
		name    string
		stored  *apb.StoredNodeConfiguration
		readErr error
		cs      *apb.NodeConfigurationStatus
		want    string
	}{
		{"no trial", &apb.StoredNodeConfiguration{Version: 1}, nil, &apb.NodeConfigurationStatus{NodeVersion: 1}, ""},
		{"a cluster without configuration", nil, nil, nil, ""},
		{"stored and run", stored, nil, &apb.NodeConfigurationStatus{NodeVersion: 1, TrialVersion: 2}, "version 2, expires 2026-12-07T12:01:00Z; the node runs it"},
		{"stored, not reported yet", stored, nil, &apb.NodeConfigurationStatus{NodeVersion: 1}, "version 2, expires 2026-12-07T12:01:00Z; the node has not reported it yet"},
		{"stored, a node reporting nothing", stored, nil, nil, "version 2, expires 2026-12-07T12:01:00Z; the node reports nothing of it"},
		{"run, no longer stored", &apb.StoredNodeConfiguration{Version: 2}, nil, &apb.NodeConfigurationStatus{NodeVersion: 1, TrialVersion: 2},
			"version 2, the node runs it; the cluster keeps it no more (confirmed, or expired and the node goes back)"},
		{"run, the stored configuration unread", nil, errors.New("boom"), &apb.NodeConfigurationStatus{TrialVersion: 2},
			"version 2, the node runs it (the stored configuration could not be read: boom)"},
		{"unread", nil, errors.New("boom"), nil, "unknown: the stored configuration could not be read: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := trialText(tc.stored, tc.readErr, tc.cs); got != tc.want {
				t.Errorf("trialText =\n%q, want\n%q", got, tc.want)
			}
		})
	}
}

// networkConfiguration is a node's network with every field set.
func networkConfiguration() *apb.NodeConfiguration {
	return &apb.NodeConfiguration{Network: &apb.NodeNetwork{
		Uplink: &apb.NetworkConfig{Mode: &apb.NetworkConfig_Static{Static: &apb.NetworkConfig_StaticMode{
			HardwareAddress: "52:54:00:12:34:56", Addresses: []string{"10.100.0.5/24", "2001:db8::5/64"},
			Gateways: []string{"10.100.0.1"}, Nameservers: []string{"10.100.0.53"},
		}}},
		Mtu:    9000,
		Vlans:  []*apb.VlanLink{{Id: 100, Addresses: []string{"10.200.0.5/24"}, Mtu: 1500}, {Id: 200, Addresses: []string{"10.201.0.5/24"}}},
		Routes: []*apb.NetworkRoute{{Destination: "198.51.100.0/24", Gateway: "10.200.0.1"}},
	}}
}

// A network goes through get and back through apply unchanged, in YAML and JSON, and a change
// to it is stored as written.
func TestNodeConfigNetworkRoundTrip(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	e.cluster.setNodeConfig(id, 1, networkConfiguration())

	r := e.run("", "node", "config", "get", id)
	for _, want := range []string{"  network:\n", "    mtu: 9000\n", "    routes:\n    - destination: 198.51.100.0/24\n      gateway: 10.200.0.1\n",
		"    uplink:\n      static:\n        addresses:\n        - 10.100.0.5/24\n", "    vlans:\n    - addresses:\n      - 10.200.0.5/24\n      id: 100\n      mtu: 1500\n"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("get lacks %q:\n%v", want, r)
		}
	}
	yamlDoc := r.stdout
	jsonDoc := e.run("", "node", "config", "get", id, "-o", "json").stdout
	for _, doc := range []string{yamlDoc, jsonDoc} {
		if r := e.run("", "node", "config", "apply", id, "-f", writeFile(t, "node", doc)); r.code != 0 || !strings.Contains(r.stdout, "No change") {
			t.Errorf("applying what get printed:\n%v", r)
		}
	}
	if calls := e.cluster.callsOf("ConfigureNode"); len(calls) != 0 {
		t.Errorf("ConfigureNode was called for no change: %v", calls)
	}

	changed := strings.Replace(yamlDoc, "mtu: 9000", "mtu: 1400", 1)
	r = e.run("", "node", "config", "apply", id, "-f", writeFile(t, "node.yaml", changed), "--try", "30s", "--confirm")
	if r.code != 0 || !strings.Contains(r.stdout, "-  mtu: 9000\n+  mtu: 1400\n") {
		t.Fatalf("apply of a changed MTU:\n%v", r)
	}
	want := networkConfiguration()
	want.Network.Mtu = 1400
	if st := e.cluster.storedNodeConfig(id); st.Version != 2 || !proto.Equal(st.Configuration, want) {
		t.Errorf("stored %v, want version 2 with %v", st, want)
	}

	dhcp := writeFile(t, "dhcp.yaml", "configuration:\n  network:\n    uplink:\n      dhcp: {}\n")
	if r := e.run("", "node", "config", "apply", id, "-f", dhcp); r.code != 0 {
		t.Fatalf("apply of a DHCP uplink:\n%v", r)
	}
	if st := e.cluster.storedNodeConfig(id); st.Configuration.GetNetwork().GetUplink().GetDhcp() == nil {
		t.Errorf("stored %v, want a DHCP uplink", st)
	}
	r = e.run("", "node", "config", "get", id)
	if !strings.Contains(r.stdout, "    uplink:\n      dhcp: {}\n") {
		t.Errorf("get of a DHCP uplink:\n%v", r)
	}
}
