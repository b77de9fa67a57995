package cli

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestConfigPaths(t *testing.T) {
	want := []string{"node_defaults.ntp_servers", "node_defaults.nameservers", "node_defaults.kubernetes_rules", "attestation.required"}
	if got := configPaths((&apb.ClusterConfiguration{}).ProtoReflect().Descriptor()); !slices.Equal(got, want) {
		t.Errorf("paths %v, want %v (the ones ConfigureCluster takes)", got, want)
	}
}

func TestChangedConfigPaths(t *testing.T) {
	yes := true
	base := &apb.ClusterConfiguration{
		NodeDefaults: &apb.NodeDefaults{
			NtpServers:      []string{"a.example.com"},
			KubernetesRules: []*apb.KubernetesNodeRule{{NodeSelector: map[string]string{"tier": "db"}}},
		},
		Attestation: &apb.ClusterAttestation{Required: true},
	}
	for _, tc := range []struct {
		name   string
		change func(c *apb.ClusterConfiguration)
		want   []string
	}{
		{"nothing", func(*apb.ClusterConfiguration) {}, nil},
		{"an NTP server", func(c *apb.ClusterConfiguration) { c.NodeDefaults.NtpServers = []string{"b.example.com"} }, []string{"node_defaults.ntp_servers"}},
		{"a rule deep down", func(c *apb.ClusterConfiguration) { c.NodeDefaults.KubernetesRules[0].ConsensusMember = &yes }, []string{"node_defaults.kubernetes_rules"}},
		{"nameservers and attestation", func(c *apb.ClusterConfiguration) {
			c.NodeDefaults.Nameservers = []string{"10.0.0.53"}
			c.Attestation.Required = false
		}, []string{"node_defaults.nameservers", "attestation.required"}},
		{"all node defaults gone", func(c *apb.ClusterConfiguration) { c.NodeDefaults = nil }, []string{"node_defaults.ntp_servers", "node_defaults.kubernetes_rules"}},
		{"an empty message is no message", func(c *apb.ClusterConfiguration) { c.NodeDefaults.Nameservers = []string{} }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := proto.Clone(base).(*apb.ClusterConfiguration)
			tc.change(next)
			if got := changedConfigPaths(base.ProtoReflect(), next.ProtoReflect()); !slices.Equal(got, tc.want) {
				t.Errorf("changed paths %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClusterConfigGetAndApply(t *testing.T) {
	e := newTestEnv(t, true)
	r := e.run("", "cluster", "config", "get")
	if want := "# cluster, version 0 (never changed)\nversion: 0\nconfiguration: {}\n"; r.code != 0 || r.stdout != want {
		t.Errorf("get printed %q, want %q\n%v", r.stdout, want, r)
	}

	e.cluster.setClusterConfig(2, &apb.ClusterConfiguration{NodeDefaults: &apb.NodeDefaults{Nameservers: []string{"10.0.0.53"}}})
	file := writeFile(t, "cluster.yaml", "version: 2\nconfiguration:\n"+
		"  node_defaults:\n"+
		"    nameservers: [10.0.0.53]\n"+
		"    ntp_servers: [time.example.com]\n"+
		"    kubernetes_rules:\n"+
		"    - node_selector: {tier: db}\n"+
		"      kubernetes: {taints: [{key: dedicated, value: db, effect: NoSchedule}]}\n")
	r = e.run("", "cluster", "config", "apply", "-f", file)
	if r.code != 0 || !strings.Contains(r.stdout, "--- the cluster (version 2)") || !strings.Contains(r.stdout, "Configured the cluster: now at version 3.") {
		t.Fatalf("apply:\n%v", r)
	}
	req := e.cluster.lastRequest().(*apb.ConfigureClusterRequest)
	if want := []string{"node_defaults.ntp_servers", "node_defaults.kubernetes_rules"}; !slices.Equal(req.UpdateMask.GetPaths(), want) {
		t.Errorf("update mask %v, want only the changed fields %v", req.UpdateMask.GetPaths(), want)
	}
	if req.ExpectedVersion != 2 || req.AllowAttestationOff {
		t.Errorf("expected_version %d, allow_attestation_off %v; want 2, false", req.ExpectedVersion, req.AllowAttestationOff)
	}
	st := e.cluster.storedClusterConfig()
	if nd := st.Configuration.GetNodeDefaults(); st.Version != 3 || !slices.Equal(nd.NtpServers, []string{"time.example.com"}) || len(nd.KubernetesRules) != 1 || !slices.Equal(nd.Nameservers, []string{"10.0.0.53"}) {
		t.Errorf("stored %v", st)
	}

	// Applying it again is no change; another change at the old version is stale, and the
	// error names the command to read the configuration again.
	if r := e.run("", "cluster", "config", "apply", "-f", file); r.code != 0 || !strings.Contains(r.stdout, "No change") {
		t.Errorf("applying the same again:\n%v", r)
	}
	stale := writeFile(t, "stale.yaml", "version: 2\nconfiguration:\n  attestation: {required: true}\n")
	r = e.run("", "cluster", "config", "apply", "-f", stale)
	if r.code == 0 || !strings.Contains(r.stderr, "made against version 2, but someone changed the configuration since (it is at version 3 now)") || !strings.Contains(r.stderr, "metroctl cluster config get") {
		t.Errorf("a stale version:\n%v", r)
	}
}

func TestClusterConfigAttestationOff(t *testing.T) {
	e := newTestEnv(t, true)
	e.cluster.setClusterConfig(1, &apb.ClusterConfiguration{Attestation: &apb.ClusterAttestation{Required: true}})
	file := writeFile(t, "cluster.yaml", "configuration:\n  attestation: {required: false}\n")

	r := e.run("", "cluster", "config", "apply", "-f", file)
	if r.code == 0 || !strings.Contains(r.stderr, "admits machines and software the cluster does not know; pass --allow-attestation-off") {
		t.Errorf("turning attestation off without the flag:\n%v", r)
	}
	if calls := e.cluster.callsOf("ConfigureCluster"); len(calls) != 0 {
		t.Errorf("ConfigureCluster was called: %v", calls)
	}

	r = e.run("", "cluster", "config", "apply", "-f", file, "--allow-attestation-off")
	if r.code != 0 {
		t.Fatalf("turning attestation off with the flag:\n%v", r)
	}
	req := e.cluster.lastRequest().(*apb.ConfigureClusterRequest)
	if !req.AllowAttestationOff || !slices.Equal(req.UpdateMask.GetPaths(), []string{"attestation.required"}) {
		t.Errorf("ConfigureCluster got %v, want allow_attestation_off and the mask [attestation.required]", req)
	}
	if e.cluster.storedClusterConfig().Configuration.GetAttestation().GetRequired() {
		t.Error("attestation is still required")
	}
}

func TestClusterConfigDryRunOfNoChange(t *testing.T) {
	e := newTestEnv(t, true)
	file := writeFile(t, "cluster.yaml", "configuration: {}\n")
	r := e.run("", "cluster", "config", "apply", "-f", file, "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "Dry run: the configuration of the cluster is already this") {
		t.Fatalf("dry run of no change:\n%v", r)
	}
	req := e.cluster.lastRequest().(*apb.ConfigureClusterRequest)
	if !req.DryRun || len(req.UpdateMask.GetPaths()) != 4 {
		t.Errorf("ConfigureCluster got %v, want a dry run over every path", req)
	}
}

func TestClusterConfigEdit(t *testing.T) {
	e := newTestEnv(t, true)
	e.cluster.setClusterConfig(1, &apb.ClusterConfiguration{NodeDefaults: &apb.NodeDefaults{NtpServers: []string{"a.example.com"}}})
	script := editorScript(t, `sed -i.orig 's/a\.example\.com/b.example.com/' "$1"`)
	r := runMetroctlEnv(t, e.dir, e.cluster.port, "", map[string]string{"VISUAL": script, "EDITOR": "false"}, "cluster", "config", "edit")
	if r.code != 0 || !strings.Contains(r.stdout, "now at version 2") {
		t.Fatalf("edit:\n%v", r)
	}
	if req := e.cluster.lastRequest().(*apb.ConfigureClusterRequest); !slices.Equal(req.UpdateMask.GetPaths(), []string{"node_defaults.ntp_servers"}) {
		t.Errorf("update mask %v", req.UpdateMask.GetPaths())
	}
}
