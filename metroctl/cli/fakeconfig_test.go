package cli

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
)

// The configuration RPCs of the fake, with the curator's documented rules (docs/
// configuration.md): a compare-and-set on the version (codes.Aborted on a mismatch, nothing
// stored), a dry run stores nothing, a configuration equal to the stored one is no change
// and no error whatever version it names, and an invalid one is codes.InvalidArgument naming
// the field. Validation here is a stand-in: an NTP or DNS
// server must not be empty or hold spaces.
//
// Trials as the curator decides them: with try_duration (10 s to 1 h) the configuration is
// stored as the trial (version one more than the stored one), and while a trial runs nothing
// else changes (codes.FailedPrecondition) but the same trial again; the node reports it at
// once unless fakeCluster.trialCutOff. ConfirmNodeConfiguration makes the trial the stored
// configuration if it has not expired and the node reported it; a version already confirmed
// is no change.

// fakeConfigTime is when the fake says every configuration changed.
var fakeConfigTime = time.Date(2025, 11, 23, 21, 10, 19, 0, time.UTC)

// fakeClusterConfigPaths are the field mask paths ConfigureCluster accepts.
var fakeClusterConfigPaths = []string{"node_defaults.ntp_servers", "node_defaults.nameservers", "node_defaults.kubernetes_rules", "attestation.required"}

// setNodeConfig stores cfg as node id's configuration at version, which the node reports it
// follows.
func (f *fakeCluster) setNodeConfig(id string, version uint64, cfg *apb.NodeConfiguration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.storeNodeConfigLocked(id, &apb.StoredNodeConfiguration{Version: version, Configuration: cfg, Changed: timestamppb.New(fakeConfigTime), ChangedBy: "owner"})
	f.nodeConfigStatusLocked(id).NodeVersion = version
}

// setNodeTrial stores t as node id's trial, the node reporting it if running.
func (f *fakeCluster) setNodeTrial(id string, t *apb.TrialNodeConfiguration, running bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.nodeConfigLocked(id)
	st.Trial = t
	f.storeNodeConfigLocked(id, st)
	if running {
		f.nodeConfigStatusLocked(id).TrialVersion = t.Version
	}
}

// storeNodeConfigLocked stores st as node id's configuration, and its version in the node's
// record, as the curator does.
func (f *fakeCluster) storeNodeConfigLocked(id string, st *apb.StoredNodeConfiguration) {
	f.nodeConfigs[id] = st
	if n, ok := f.nodes[id]; ok {
		n.ConfigurationVersion = st.Version
	}
}

// nodeConfigStatusLocked is what node id reports of its configuration, created empty if it
// reported nothing yet.
func (f *fakeCluster) nodeConfigStatusLocked(id string) *apb.NodeConfigurationStatus {
	n, ok := f.nodes[id]
	if !ok {
		return &apb.NodeConfigurationStatus{} // no node to report it
	}
	if n.Status == nil {
		n.Status = &apb.NodeStatus{}
	}
	if n.Status.Configuration == nil {
		n.Status.Configuration = &apb.NodeConfigurationStatus{}
	}
	return n.Status.Configuration
}

// setNodeConfigStatus replaces what node id reports of its configuration.
func (f *fakeCluster) setNodeConfigStatus(id string, cs *apb.NodeConfigurationStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes[id].Status.Configuration = cs
}

// storedNodeConfig returns node id's stored configuration.
func (f *fakeCluster) storedNodeConfig(id string) *apb.StoredNodeConfiguration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nodeConfigLocked(id)
}

func (f *fakeCluster) nodeConfigLocked(id string) *apb.StoredNodeConfiguration {
	if st, ok := f.nodeConfigs[id]; ok {
		return proto.Clone(st).(*apb.StoredNodeConfiguration)
	}
	return &apb.StoredNodeConfiguration{Configuration: &apb.NodeConfiguration{}}
}

// setClusterConfig stores cfg as the cluster's configuration at version.
func (f *fakeCluster) setClusterConfig(version uint64, cfg *apb.ClusterConfiguration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clusterConfig = &apb.StoredClusterConfiguration{Version: version, Configuration: cfg, Changed: timestamppb.New(fakeConfigTime), ChangedBy: "owner"}
}

func (f *fakeCluster) storedClusterConfig() *apb.StoredClusterConfiguration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return proto.Clone(f.clusterConfig).(*apb.StoredClusterConfiguration)
}

// fakeValidateServers is the fake's validation of a server list.
func fakeValidateServers(field string, servers []string) error {
	for i, s := range servers {
		if s == "" || strings.ContainsAny(s, " \t") {
			return status.Errorf(codes.InvalidArgument, "%s[%d]: %q is not a host or host:port", field, i, s)
		}
	}
	return nil
}

func (m fakeManagement) GetNodeConfiguration(ctx context.Context, req *apb.GetNodeConfigurationRequest) (*apb.GetNodeConfigurationResponse, error) {
	if err := m.f.checkOwner(ctx); err != nil {
		return nil, err
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	if _, ok := m.f.nodes[req.NodeId]; !ok {
		return nil, status.Errorf(codes.NotFound, "node %s does not exist", req.NodeId)
	}
	st := m.f.nodeConfigLocked(req.NodeId)
	effective := proto.Clone(st.Configuration).(*apb.NodeConfiguration)
	defaults := m.f.clusterConfig.GetConfiguration().GetNodeDefaults()
	if len(effective.NtpServers) == 0 {
		effective.NtpServers = defaults.GetNtpServers()
	}
	if len(effective.Nameservers) == 0 {
		effective.Nameservers = defaults.GetNameservers()
	}
	return &apb.GetNodeConfigurationResponse{Stored: st, Effective: effective}, nil
}

func (m fakeManagement) ConfigureNode(ctx context.Context, req *apb.ConfigureNodeRequest) (*apb.ConfigureNodeResponse, error) {
	if err := m.f.checkOwner(ctx); err != nil {
		return nil, err
	}
	m.f.record("ConfigureNode "+req.NodeId, req)
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	if _, ok := m.f.nodes[req.NodeId]; !ok {
		return nil, status.Errorf(codes.NotFound, "node %s does not exist", req.NodeId)
	}
	cfg := req.GetConfiguration()
	if cfg == nil {
		cfg = &apb.NodeConfiguration{}
	}
	if err := fakeValidateServers("ntp_servers", cfg.NtpServers); err != nil {
		return nil, err
	}
	if err := fakeValidateServers("nameservers", cfg.Nameservers); err != nil {
		return nil, err
	}
	try := req.GetTryDuration()
	if m.f.noTrials {
		try = nil // a release without trials does not know the field
	}
	if d := try.AsDuration(); try != nil && (d < minTryDuration || d > maxTryDuration) {
		return nil, status.Errorf(codes.InvalidArgument, "configure node %s: try_duration: %v is outside %v to %v", req.NodeId, d, minTryDuration, maxTryDuration)
	}
	st := m.f.nodeConfigLocked(req.NodeId)
	if t := st.Trial; t != nil && time.Now().Before(t.Expires.AsTime()) {
		if try != nil && proto.Equal(t.Configuration, cfg) && try.AsDuration() == t.Duration.AsDuration() {
			return &apb.ConfigureNodeResponse{Stored: st}, nil
		}
		return nil, status.Errorf(codes.FailedPrecondition, "configure node %s: the node is trying version %d until %s; confirm it (ConfirmNodeConfiguration) or let it expire before changing the configuration again",
			req.NodeId, t.Version, t.Expires.AsTime().UTC().Format(time.RFC3339))
	}
	st.Trial = nil
	if proto.Equal(st.Configuration, cfg) {
		return &apb.ConfigureNodeResponse{Stored: st}, nil
	}
	if st.Version != req.ExpectedVersion {
		return nil, status.Errorf(codes.Aborted, "the configuration is at version %d, not %d", st.Version, req.ExpectedVersion)
	}
	next := &apb.StoredNodeConfiguration{Version: st.Version + 1, Configuration: cfg, Changed: timestamppb.New(fakeConfigTime), ChangedBy: "owner"}
	if try != nil {
		next = proto.Clone(st).(*apb.StoredNodeConfiguration)
		next.Trial = &apb.TrialNodeConfiguration{
			Version: st.Version + 1, Configuration: cfg, Duration: try, Expires: timestamppb.New(time.Now().Add(try.AsDuration())),
			Changed: timestamppb.New(fakeConfigTime), ChangedBy: "owner",
		}
	}
	if !req.DryRun {
		m.f.storeNodeConfigLocked(req.NodeId, next)
		if next.Trial != nil && !m.f.trialCutOff {
			m.f.nodeConfigStatusLocked(req.NodeId).TrialVersion = next.Trial.Version
		}
	}
	return &apb.ConfigureNodeResponse{Stored: next, Changed: true}, nil
}

func (m fakeManagement) ConfirmNodeConfiguration(ctx context.Context, req *apb.ConfirmNodeConfigurationRequest) (*apb.ConfirmNodeConfigurationResponse, error) {
	if err := m.f.checkOwner(ctx); err != nil {
		return nil, err
	}
	m.f.record("ConfirmNodeConfiguration "+req.NodeId, req)
	if m.f.noTrials {
		return nil, status.Error(codes.Unimplemented, "unknown method ConfirmNodeConfiguration for service metropolis.api.v1.Management")
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	if _, ok := m.f.nodes[req.NodeId]; !ok {
		return nil, status.Errorf(codes.NotFound, "node %s does not exist", req.NodeId)
	}
	st := m.f.nodeConfigLocked(req.NodeId)
	cs := m.f.nodeConfigStatusLocked(req.NodeId)
	const step = "confirm the configuration of node"
	switch t := st.Trial; {
	case t == nil && req.Version != 0 && st.Version == req.Version:
		return &apb.ConfirmNodeConfigurationResponse{Stored: st}, nil
	case t == nil || t.Version != req.Version:
		return nil, status.Errorf(codes.FailedPrecondition, "%s %s: no trial of version %d; the configuration is at version %d", step, req.NodeId, req.Version, st.Version)
	case !time.Now().Before(t.Expires.AsTime()):
		return nil, status.Errorf(codes.FailedPrecondition, "%s %s: the trial of version %d expired", step, req.NodeId, req.Version)
	case cs.TrialVersion != req.Version:
		return nil, status.Errorf(codes.FailedPrecondition, "%s %s: the node has not reported running version %d (it reports trial version %d)", step, req.NodeId, req.Version, cs.TrialVersion)
	}
	t := st.Trial
	next := &apb.StoredNodeConfiguration{Version: t.Version, Configuration: t.Configuration, Changed: t.Changed, ChangedBy: t.ChangedBy}
	m.f.storeNodeConfigLocked(req.NodeId, next)
	cs.NodeVersion, cs.TrialVersion = t.Version, 0
	return &apb.ConfirmNodeConfigurationResponse{Stored: next}, nil
}

// fakeFilled is c with absent messages made empty ones, which mean the same.
func fakeFilled(c *apb.ClusterConfiguration) *apb.ClusterConfiguration {
	c = proto.Clone(c).(*apb.ClusterConfiguration)
	if c.NodeDefaults == nil {
		c.NodeDefaults = &apb.NodeDefaults{}
	}
	if c.Attestation == nil {
		c.Attestation = &apb.ClusterAttestation{}
	}
	return c
}

func (m fakeManagement) GetClusterConfiguration(ctx context.Context, _ *apb.GetClusterConfigurationRequest) (*apb.GetClusterConfigurationResponse, error) {
	if err := m.f.checkOwner(ctx); err != nil {
		return nil, err
	}
	return &apb.GetClusterConfigurationResponse{Stored: m.f.storedClusterConfig()}, nil
}

func (m fakeManagement) ConfigureCluster(ctx context.Context, req *apb.ConfigureClusterRequest) (*apb.ConfigureClusterResponse, error) {
	if err := m.f.checkOwner(ctx); err != nil {
		return nil, err
	}
	m.f.record("ConfigureCluster", req)
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, status.Error(codes.InvalidArgument, "update_mask: names no field")
	}
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	st := proto.Clone(m.f.clusterConfig).(*apb.StoredClusterConfiguration)
	if st.Configuration == nil {
		st.Configuration = &apb.ClusterConfiguration{}
	}
	cur := proto.Clone(st.Configuration).(*apb.ClusterConfiguration)
	next, in := st.Configuration, req.GetConfiguration()
	if next.NodeDefaults == nil {
		next.NodeDefaults = &apb.NodeDefaults{}
	}
	for _, p := range paths {
		switch p {
		case "node_defaults.ntp_servers":
			next.NodeDefaults.NtpServers = in.GetNodeDefaults().GetNtpServers()
		case "node_defaults.nameservers":
			next.NodeDefaults.Nameservers = in.GetNodeDefaults().GetNameservers()
		case "node_defaults.kubernetes_rules":
			next.NodeDefaults.KubernetesRules = in.GetNodeDefaults().GetKubernetesRules()
		case "attestation.required":
			if cur.GetAttestation().GetRequired() && !in.GetAttestation().GetRequired() && !req.AllowAttestationOff {
				return nil, status.Error(codes.FailedPrecondition, "attestation.required: turning attestation off needs allow_attestation_off")
			}
			next.Attestation = &apb.ClusterAttestation{Required: in.GetAttestation().GetRequired()}
		default:
			return nil, status.Errorf(codes.InvalidArgument, "update_mask: unknown path %q (want one of %s)", p, strings.Join(fakeClusterConfigPaths, ", "))
		}
	}
	if err := fakeValidateServers("node_defaults.ntp_servers", next.NodeDefaults.NtpServers); err != nil {
		return nil, err
	}
	if proto.Equal(fakeFilled(cur), fakeFilled(next)) {
		return &apb.ConfigureClusterResponse{Stored: proto.Clone(m.f.clusterConfig).(*apb.StoredClusterConfiguration)}, nil
	}
	if st.Version != req.ExpectedVersion {
		return nil, status.Errorf(codes.Aborted, "the configuration is at version %d, not %d", st.Version, req.ExpectedVersion)
	}
	st.Version++
	st.Changed, st.ChangedBy = timestamppb.New(fakeConfigTime), "owner"
	if !req.DryRun {
		m.f.clusterConfig = st
	}
	return &apb.ConfigureClusterResponse{Stored: st, Changed: true}, nil
}
