package curator

import (
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

func TestNextNodeConfiguration(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	c := change{by: "owner owner", now: now}
	ntp := func(s ...string) *apb.NodeConfiguration { return &apb.NodeConfiguration{NtpServers: s} }
	v2 := &apb.StoredNodeConfiguration{Version: 2, Configuration: ntp("a.example")}
	minute := durationpb.New(time.Minute)
	trying := &apb.StoredNodeConfiguration{Version: 2, Configuration: ntp("a.example"), Trial: &apb.TrialNodeConfiguration{
		Version: 3, Configuration: ntp("b.example"), Duration: minute, Expires: timestamppb.New(now.Add(30 * time.Second)),
	}}
	expired := proto.Clone(trying).(*apb.StoredNodeConfiguration)
	expired.Trial.Expires = timestamppb.New(now.Add(-time.Second))
	static := func(addr string) *apb.NodeConfiguration {
		return &apb.NodeConfiguration{Network: &apb.NodeNetwork{Uplink: &apb.NetworkConfig{Mode: &apb.NetworkConfig_Static{
			Static: &apb.NetworkConfig_StaticMode{Addresses: []string{addr}}}}}}
	}
	member := nodeAddress{consensus: true, address: "192.0.2.10"}
	for _, tc := range []struct {
		name        string
		cur         *apb.StoredNodeConfiguration
		req         *apb.ConfigureNodeRequest
		addr        nodeAddress
		wantVersion uint64
		wantTrial   uint64
		wantChanged bool
		wantCode    codes.Code
		wantErr     string
	}{
		{name: "first configuration", req: &apb.ConfigureNodeRequest{Configuration: ntp("a.example")}, wantVersion: 1, wantChanged: true},
		{name: "a change at the version read", cur: v2, req: &apb.ConfigureNodeRequest{Configuration: ntp("b.example"), ExpectedVersion: 2}, wantVersion: 3, wantChanged: true},
		{name: "a change at an older version", cur: v2, req: &apb.ConfigureNodeRequest{Configuration: ntp("b.example"), ExpectedVersion: 1},
			wantCode: codes.Aborted, wantErr: "the configuration is at version 2"},
		{name: "a retry that already took effect", cur: v2, req: &apb.ConfigureNodeRequest{Configuration: ntp("a.example"), ExpectedVersion: 1}, wantVersion: 2},
		{name: "empty equals absent", req: &apb.ConfigureNodeRequest{Configuration: &apb.NodeConfiguration{}}, wantVersion: 0},
		{name: "invalid", cur: v2, req: &apb.ConfigureNodeRequest{Configuration: ntp("not a host"), ExpectedVersion: 2},
			wantCode: codes.InvalidArgument, wantErr: "configuration.ntp_servers[0]"},
		{name: "a trial", cur: v2, req: &apb.ConfigureNodeRequest{Configuration: ntp("b.example"), ExpectedVersion: 2, TryDuration: minute},
			wantVersion: 2, wantTrial: 3, wantChanged: true},
		{name: "a trial too short", cur: v2, req: &apb.ConfigureNodeRequest{Configuration: ntp("b.example"), ExpectedVersion: 2, TryDuration: durationpb.New(time.Second)},
			wantCode: codes.InvalidArgument, wantErr: "try_duration: 1s is outside 10s to 1h0m0s"},
		{name: "a trial retried", cur: trying, req: &apb.ConfigureNodeRequest{Configuration: ntp("b.example"), ExpectedVersion: 2, TryDuration: minute},
			wantVersion: 2, wantTrial: 3},
		{name: "a change while a trial runs", cur: trying, req: &apb.ConfigureNodeRequest{Configuration: ntp("c.example"), ExpectedVersion: 2},
			wantCode: codes.FailedPrecondition, wantErr: "the node is trying version 3 until 2026-12-07T12:00:30Z"},
		{name: "a change after a trial expired", cur: expired, req: &apb.ConfigureNodeRequest{Configuration: ntp("c.example"), ExpectedVersion: 2},
			wantVersion: 3, wantChanged: true},
		{name: "a consensus member keeping its address", cur: v2, addr: member, req: &apb.ConfigureNodeRequest{Configuration: static("192.0.2.10/24"), ExpectedVersion: 2},
			wantVersion: 3, wantChanged: true},
		{name: "a consensus member moving", cur: v2, addr: member, req: &apb.ConfigureNodeRequest{Configuration: static("192.0.2.11/24"), ExpectedVersion: 2},
			wantCode: codes.FailedPrecondition, wantErr: "the node is a consensus member at 192.0.2.10"},
		{name: "a worker moving", cur: v2, addr: nodeAddress{address: "192.0.2.10"}, req: &apb.ConfigureNodeRequest{Configuration: static("192.0.2.11/24"), ExpectedVersion: 2},
			wantVersion: 3, wantChanged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := proto.Clone(v2)
			got, changed, err := nextNodeConfiguration("metropolis-0123456789abcdef", tc.cur, tc.req, tc.addr, c)
			if !proto.Equal(before, v2) {
				t.Fatal("the stored configuration was modified")
			}
			if tc.wantErr != "" {
				if status.Code(err) != tc.wantCode || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %v saying %q", err, tc.wantCode, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.GetVersion() != tc.wantVersion || got.GetTrial().GetVersion() != tc.wantTrial || changed != tc.wantChanged {
				t.Errorf("got version %d trial %d changed %v, want %d %d %v", got.GetVersion(), got.GetTrial().GetVersion(), changed, tc.wantVersion, tc.wantTrial, tc.wantChanged)
			}
			if changed && tc.wantTrial == 0 && (got.GetChangedBy() != c.by || !got.GetChanged().AsTime().Equal(now)) {
				t.Errorf("changed by %q at %v, want %q at %v", got.GetChangedBy(), got.GetChanged().AsTime(), c.by, now)
			}
		})
	}
}

func TestNextConfirmation(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	trying := &apb.StoredNodeConfiguration{Version: 2, Trial: &apb.TrialNodeConfiguration{
		Version: 3, Configuration: &apb.NodeConfiguration{NtpServers: []string{"b.example"}}, Expires: timestamppb.New(now.Add(time.Minute)), ChangedBy: "owner",
	}}
	confirmed := &apb.StoredNodeConfiguration{Version: 3}
	for _, tc := range []struct {
		name     string
		cur      *apb.StoredNodeConfiguration
		version  uint64
		reported uint64
		now      time.Time
		changed  bool
		wantErr  string
	}{
		{name: "reported in time", cur: trying, version: 3, reported: 3, now: now, changed: true},
		{name: "confirmed again", cur: confirmed, version: 3, now: now},
		{name: "not reported", cur: trying, version: 3, reported: 0, now: now, wantErr: "the node has not reported running version 3 (it reports trial version 0)"},
		{name: "expired", cur: trying, version: 3, reported: 3, now: now.Add(time.Minute), wantErr: "the trial of version 3 expired at 2026-12-07T12:01:00Z; the node went back to version 2"},
		{name: "another version", cur: trying, version: 4, reported: 3, now: now, wantErr: "no trial of version 4; the configuration is at version 2, and its trial is version 3"},
		{name: "no trial", cur: &apb.StoredNodeConfiguration{Version: 2}, version: 3, now: now, wantErr: "no trial of version 3; the configuration is at version 2, and there is no trial"},
		{name: "nothing stored", version: 0, now: now, wantErr: "no trial of version 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed, err := nextConfirmation("metropolis-0123456789abcdef", tc.cur, tc.version, tc.reported, tc.now)
			if tc.wantErr != "" {
				if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want FailedPrecondition saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if changed != tc.changed || got.GetVersion() != tc.version || got.GetTrial() != nil {
				t.Errorf("got %v (changed %v), want version %d without trial", got, changed, tc.version)
			}
			if changed && (got.GetConfiguration().GetNtpServers()[0] != "b.example" || got.GetChangedBy() != "owner") {
				t.Errorf("the trial's configuration and author were not kept: %v", got)
			}
		})
	}
}

func TestNextClusterConfiguration(t *testing.T) {
	c := change{by: "owner owner", now: time.Now()}
	mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }
	required := &apb.StoredClusterConfiguration{Version: 4, Configuration: &apb.ClusterConfiguration{
		NodeDefaults: &apb.NodeDefaults{NtpServers: []string{"a.example"}},
		Attestation:  &apb.ClusterAttestation{Required: true},
	}}
	off := &apb.ClusterConfiguration{}
	for _, tc := range []struct {
		name     string
		req      *apb.ConfigureClusterRequest
		wantNTP  []string
		wantAtt  bool
		changed  bool
		wantCode codes.Code
		wantErr  string
	}{
		{name: "a default changes, attestation stays", req: &apb.ConfigureClusterRequest{ExpectedVersion: 4, UpdateMask: mask("node_defaults.ntp_servers"),
			Configuration: &apb.ClusterConfiguration{NodeDefaults: &apb.NodeDefaults{NtpServers: []string{"b.example"}}}},
			wantNTP: []string{"b.example"}, wantAtt: true, changed: true},
		{name: "attestation off without the flag", req: &apb.ConfigureClusterRequest{ExpectedVersion: 4, UpdateMask: mask("attestation.required"), Configuration: off},
			wantCode: codes.FailedPrecondition, wantErr: "set allow_attestation_off"},
		{name: "attestation off with the flag", req: &apb.ConfigureClusterRequest{ExpectedVersion: 4, UpdateMask: mask("attestation"), Configuration: off, AllowAttestationOff: true},
			wantNTP: []string{"a.example"}, changed: true},
		{name: "stale", req: &apb.ConfigureClusterRequest{ExpectedVersion: 3, UpdateMask: mask("node_defaults"), Configuration: off},
			wantCode: codes.Aborted, wantErr: "expected version 3"},
		{name: "no mask", req: &apb.ConfigureClusterRequest{ExpectedVersion: 4, Configuration: off},
			wantCode: codes.InvalidArgument, wantErr: "update_mask: names no field"},
		{name: "invalid default", req: &apb.ConfigureClusterRequest{ExpectedVersion: 4, UpdateMask: mask("node_defaults.nameservers"),
			Configuration: &apb.ClusterConfiguration{NodeDefaults: &apb.NodeDefaults{Nameservers: []string{"dns.example"}}}},
			wantCode: codes.InvalidArgument, wantErr: "configuration.node_defaults.nameservers[0]"},
		{name: "the same again", req: &apb.ConfigureClusterRequest{ExpectedVersion: 1, UpdateMask: mask("node_defaults.ntp_servers"),
			Configuration: &apb.ClusterConfiguration{NodeDefaults: &apb.NodeDefaults{NtpServers: []string{"a.example"}}}},
			wantNTP: []string{"a.example"}, wantAtt: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed, err := nextClusterConfiguration(required, tc.req, c)
			if tc.wantErr != "" {
				if status.Code(err) != tc.wantCode || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %v saying %q", err, tc.wantCode, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg := got.GetConfiguration()
			if changed != tc.changed || !slicesEqual(cfg.GetNodeDefaults().GetNtpServers(), tc.wantNTP) || cfg.GetAttestation().GetRequired() != tc.wantAtt {
				t.Errorf("got %v (changed %v)", got, changed)
			}
		})
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// TestConfiguration runs the configuration API against a real curator and etcd: compare-and-set
// between two racing operators, dry runs, refusals that change nothing, the effective
// configuration, and the node following its configuration and the cluster's.
func TestConfiguration(t *testing.T) {
	c := newTestCluster(t, 0)
	mgmt := c.mgmt()
	n := c.addNode("127.0.0.2")
	ctx := callCtx(t)

	got, err := mgmt.GetNodeConfiguration(ctx, &apb.GetNodeConfigurationRequest{NodeId: n.id})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetStored().GetVersion() != 0 || got.GetStored().GetConfiguration() != nil {
		t.Fatalf("a new node's configuration: got %v, want version 0 and none", got.GetStored())
	}

	// The node watches its record and the cluster's configuration, as it does when running.
	cur := cpb.NewCuratorClient(c.dial(n.cert))
	nodeWatch, err := cur.Watch(ctx, &cpb.WatchRequest{Kind: &cpb.WatchRequest_Node{Node: &cpb.WatchRequest_NodeInCluster{NodeId: n.id}}})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := nodeWatch.Recv(); err != nil || ev.GetNodes()[0].GetConfiguration() != nil {
		t.Fatalf("first watch event: %v, %v", ev, err)
	}
	clusterWatch, err := cur.WatchClusterConfiguration(ctx, &cpb.WatchClusterConfigurationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := clusterWatch.Recv(); err != nil || first.GetVersion() != 0 {
		t.Fatalf("first cluster configuration: %v, %v", first, err)
	}

	t.Run("two operators race: one wins, the other is told to read again", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, server := range []string{"192.0.2.1", "192.0.2.2"} {
			wg.Go(func() {
				_, errs[i] = mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: n.id, ExpectedVersion: 0,
					Configuration: &apb.NodeConfiguration{NtpServers: []string{server}}})
			})
		}
		wg.Wait()
		wins, aborted := 0, 0
		for _, err := range errs {
			switch status.Code(err) {
			case codes.OK:
				wins++
			case codes.Aborted:
				aborted++
				if !strings.Contains(err.Error(), "is at version 1") || !strings.Contains(err.Error(), "read it again") {
					t.Errorf("the loser's error does not explain: %v", err)
				}
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if wins != 1 || aborted != 1 {
			t.Fatalf("%d won and %d were aborted, want one each", wins, aborted)
		}
	})

	stored := func() *apb.StoredNodeConfiguration {
		t.Helper()
		got, err := mgmt.GetNodeConfiguration(ctx, &apb.GetNodeConfigurationRequest{NodeId: n.id})
		if err != nil {
			t.Fatal(err)
		}
		return got.GetStored()
	}
	v1 := stored()
	if v1.GetVersion() != 1 || !strings.HasPrefix(v1.GetChangedBy(), "owner") {
		t.Fatalf("after the race: %v", v1)
	}

	t.Run("refusals and dry runs change nothing", func(t *testing.T) {
		_, err := mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: n.id, ExpectedVersion: 1, Configuration: &apb.NodeConfiguration{
			Kubernetes: &apb.KubernetesNodeConfiguration{Taints: []*apb.Taint{{Key: "gpu", Effect: "Never"}}}}})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "configuration.kubernetes.taints[0].effect") {
			t.Errorf("invalid taint: got %v", err)
		}
		res, err := mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: n.id, ExpectedVersion: 1, DryRun: true,
			Configuration: &apb.NodeConfiguration{NtpServers: []string{"ntp.example.com"}}})
		if err != nil || !res.GetChanged() || res.GetStored().GetVersion() != 2 {
			t.Errorf("dry run: got %v, %v; want the version it would store (2)", res, err)
		}
		if s := stored(); !proto.Equal(s, v1) {
			t.Errorf("stored configuration changed to %v", s)
		}
		if _, err := mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: "metropolis-ffffffffffffffff", Configuration: v1.GetConfiguration()}); status.Code(err) != codes.NotFound {
			t.Errorf("unknown node: got %v, want NotFound", err)
		}
	})

	t.Run("the cluster's defaults fill the node's gaps", func(t *testing.T) {
		res, err := mgmt.ConfigureCluster(ctx, &apb.ConfigureClusterRequest{
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"node_defaults.nameservers", "node_defaults.kubernetes_rules"}},
			Configuration: &apb.ClusterConfiguration{NodeDefaults: &apb.NodeDefaults{
				NtpServers:  []string{"not changed: not in the mask"},
				Nameservers: []string{"192.0.2.53"},
				KubernetesRules: []*apb.KubernetesNodeRule{{Kubernetes: &apb.KubernetesNodeConfiguration{
					Labels: map[string]string{"site": "lab"}}}},
			}},
		})
		if err != nil || res.GetStored().GetVersion() != 1 {
			t.Fatalf("configure the cluster: %v, %v", res, err)
		}
		if ntp := res.GetStored().GetConfiguration().GetNodeDefaults().GetNtpServers(); len(ntp) != 0 {
			t.Errorf("a field outside the mask was stored: %v", ntp)
		}
		got, err := mgmt.GetNodeConfiguration(ctx, &apb.GetNodeConfigurationRequest{NodeId: n.id})
		if err != nil {
			t.Fatal(err)
		}
		eff := got.GetEffective()
		if len(eff.GetNtpServers()) != 1 || eff.GetNameservers()[0] != "192.0.2.53" || eff.GetKubernetes().GetLabels()["site"] != "lab" {
			t.Errorf("effective configuration: %v", eff)
		}
		if _, err := mgmt.ConfigureCluster(ctx, &apb.ConfigureClusterRequest{ExpectedVersion: 0,
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"node_defaults"}}, Configuration: &apb.ClusterConfiguration{}}); status.Code(err) != codes.Aborted {
			t.Errorf("stale cluster change: got %v, want Aborted", err)
		}
		_, err = mgmt.ConfigureCluster(ctx, &apb.ConfigureClusterRequest{ExpectedVersion: 1,
			UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"attestation.required"}},
			Configuration: &apb.ClusterConfiguration{Attestation: &apb.ClusterAttestation{Required: true}}})
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), n.id+" (no TPM)") {
			t.Errorf("attestation on with nodes without a TPM: got %v, want FailedPrecondition naming %s", err, n.id)
		}
	})

	t.Run("the node sees both changes", func(t *testing.T) {
		ev, err := nodeWatch.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.GetNodes()[0].GetConfiguration(); got.GetVersion() != 1 || len(got.GetConfiguration().GetNtpServers()) != 1 {
			t.Errorf("node watch: configuration %v", got)
		}
		cc, err := clusterWatch.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if cc.GetVersion() != 1 || cc.GetConfiguration().GetNodeDefaults().GetNameservers()[0] != "192.0.2.53" {
			t.Errorf("cluster configuration watch: %v", cc)
		}
	})

	t.Run("a trial is confirmed only once the node reports it", func(t *testing.T) {
		want := &apb.NodeConfiguration{NtpServers: []string{"192.0.2.9"}}
		res, err := mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: n.id, ExpectedVersion: 1, Configuration: want,
			TryDuration: durationpb.New(time.Minute)})
		if err != nil || res.GetStored().GetVersion() != 1 || res.GetStored().GetTrial().GetVersion() != 2 {
			t.Fatalf("try: %v, %v; want version 1 with trial 2", res, err)
		}
		ev, err := nodeWatch.Recv()
		if err != nil || ev.GetNodes()[0].GetConfiguration().GetTrial().GetVersion() != 2 {
			t.Fatalf("the node's watch does not carry the trial: %v, %v", ev, err)
		}
		_, err = mgmt.ConfirmNodeConfiguration(ctx, &apb.ConfirmNodeConfigurationRequest{NodeId: n.id, Version: 2})
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "has not reported running version 2") {
			t.Fatalf("confirm before the node reports: %v", err)
		}
		if _, err := mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: n.id, ExpectedVersion: 1, Configuration: v1.GetConfiguration()}); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("a change while the trial runs: %v, want FailedPrecondition", err)
		}
		_, err = cpb.NewCuratorClient(c.dial(n.cert)).UpdateNodeStatus(ctx, &cpb.UpdateNodeStatusRequest{Status: &apb.NodeStatus{
			ExternalAddress: n.ip, Configuration: &apb.NodeConfigurationStatus{NodeVersion: 1, TrialVersion: 2}}})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // a repeated confirmation succeeds and changes nothing
			got, err := mgmt.ConfirmNodeConfiguration(ctx, &apb.ConfirmNodeConfigurationRequest{NodeId: n.id, Version: 2})
			if err != nil || got.GetStored().GetVersion() != 2 || got.GetStored().GetTrial() != nil {
				t.Fatalf("confirm: %v, %v", got, err)
			}
		}
		if s := stored(); s.GetVersion() != 2 || !proto.Equal(s.GetConfiguration(), want) || s.GetTrial() != nil {
			t.Errorf("after confirmation: %v", s)
		}
	})
}
