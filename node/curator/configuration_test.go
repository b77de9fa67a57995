package curator

import (
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

func TestNextNodeConfiguration(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	c := change{by: "owner owner", now: now}
	ntp := func(s ...string) *apb.NodeConfiguration { return &apb.NodeConfiguration{NtpServers: s} }
	v2 := &apb.StoredNodeConfiguration{Version: 2, Configuration: ntp("a.example")}
	for _, tc := range []struct {
		name        string
		cur         *apb.StoredNodeConfiguration
		req         *apb.ConfigureNodeRequest
		wantVersion uint64
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := proto.Clone(v2)
			got, changed, err := nextNodeConfiguration("metropolis-0123456789abcdef", tc.cur, tc.req, c)
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
			if got.GetVersion() != tc.wantVersion || changed != tc.wantChanged {
				t.Errorf("got version %d changed %v, want %d %v", got.GetVersion(), changed, tc.wantVersion, tc.wantChanged)
			}
			if changed && (got.GetChangedBy() != c.by || !got.GetChanged().AsTime().Equal(now)) {
				t.Errorf("changed by %q at %v, want %q at %v", got.GetChangedBy(), got.GetChanged().AsTime(), c.by, now)
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
}
