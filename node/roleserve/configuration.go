package roleserve

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Configuration is what the node follows of the configuration the cluster keeps for it: its
// own (or its trial's, while one runs) with the cluster's defaults filled in
// (apb.EffectiveNodeConfiguration), and the versions it comes from, which the node reports as
// applied.
type Configuration struct {
	Effective      *apb.NodeConfiguration
	NodeVersion    uint64
	ClusterVersion uint64
	// TrialVersion is the trial followed, 0 if none; Reverted says what became of the last
	// trial the node reverted.
	TrialVersion uint64
	Reverted     string
}

// nodeConfigInput is what the node's own record says that its configuration depends on.
type nodeConfigInput struct {
	stored *apb.StoredNodeConfiguration
	facts  apb.NodeFacts
}

func inputFromRecord(n *cpb.Node) *nodeConfigInput {
	return &nodeConfigInput{
		stored: n.GetConfiguration(),
		facts:  apb.NodeFacts{Labels: n.GetLabels(), ConsensusMember: n.GetRoles().GetConsensusMember() != nil},
	}
}

// effectiveConfiguration is the pure merge behind Configuration, of what decideTrial chose to
// follow of the node's record and the cluster's configuration.
func effectiveConfiguration(d trialDecision, facts apb.NodeFacts, cluster *apb.StoredClusterConfiguration) *Configuration {
	return &Configuration{
		Effective:      apb.EffectiveNodeConfiguration(d.configuration, cluster.GetConfiguration(), facts),
		NodeVersion:    d.version,
		ClusterVersion: cluster.GetVersion(),
		TrialVersion:   d.trial.GetVersion(),
	}
}

func (c *Configuration) equal(o *Configuration) bool {
	return c != nil && o != nil && c.NodeVersion == o.NodeVersion && c.ClusterVersion == o.ClusterVersion &&
		c.TrialVersion == o.TrialVersion && c.Reverted == o.Reverted && proto.Equal(c.Effective, o.Effective)
}

// Configuration follows what the node is configured to be. Until the curator has sent both
// the node's record and the cluster's configuration, Get blocks.
func (s *Service) Configuration() event.Watcher[*Configuration] { return s.configuration.Watch() }

// watchClusterConfiguration follows the cluster's configuration at the curator leader. A
// curator of a release without configuration answers Unimplemented: the node then follows
// an empty one, and asks again when the stream is reopened (a leader change may bring a newer
// curator).
func (s *Service) watchClusterConfiguration(ctx context.Context, cur cpb.CuratorClient) error {
	stream, err := cur.WatchClusterConfiguration(ctx, &cpb.WatchClusterConfigurationRequest{})
	if err == nil {
		var first *apb.StoredClusterConfiguration
		if first, err = stream.Recv(); err == nil {
			s.clusterConfig.Set(first)
		}
	}
	if status.Code(err) == codes.Unimplemented {
		supervisor.Logger(ctx).Warningf("the curator leader does not serve the cluster configuration (an older release): following none until it does")
		s.clusterConfig.Set(&apb.StoredClusterConfiguration{})
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Minute):
			return fmt.Errorf("asking the curator for the cluster configuration again: %w", err)
		}
	}
	if err != nil {
		return fmt.Errorf("watch the cluster configuration: %w", err)
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	for {
		next, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("watch the cluster configuration: %w", err)
		}
		s.clusterConfig.Set(next)
	}
}

// mergeConfiguration publishes Configuration whenever the node's record or the cluster's
// configuration change what it is, and when a trial the node follows expires.
func (s *Service) mergeConfiguration(ctx context.Context) error {
	logger := supervisor.Logger(ctx)
	changes := make(chan func())
	nw := s.nodeConfig.Watch()
	defer nw.Close()
	cw := s.clusterConfig.Watch()
	defer cw.Close()
	var in *nodeConfigInput
	var cluster *apb.StoredClusterConfiguration
	go follow(ctx, nw, changes, func(v *nodeConfigInput) { in = v })
	go follow(ctx, cw, changes, func(v *apb.StoredClusterConfiguration) { cluster = v })
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	clk := s.clock()
	var last *Configuration
	var expiry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case apply := <-changes:
			apply()
		case <-expiry:
		}
		if in == nil || cluster == nil {
			continue
		}
		now := clk.Now()
		d := decideTrial(in.stored, s.trials.following, s.trials.reverted, now)
		if d.revert != nil {
			s.trials.reverted[*d.revert] = true
			s.trials.note = revertNote(*d.revert, now)
			logger.Warningf("configuration %s; following version %d again", s.trials.note, d.version)
		}
		expiry = nil
		s.trials.following = nil
		if d.trial != nil {
			k := keyOf(d.trial)
			s.trials.following = &k
			expiry = clk.After(k.expires.Sub(now))
		}
		next := effectiveConfiguration(d, in.facts, cluster)
		next.Reverted = s.trials.note
		if next.equal(last) {
			continue
		}
		if last == nil || last.NodeVersion != next.NodeVersion || last.ClusterVersion != next.ClusterVersion || last.TrialVersion != next.TrialVersion {
			if next.TrialVersion != 0 {
				logger.Infof("trying configuration version %d of the node until %s, unless confirmed; cluster's version %d",
					next.TrialVersion, s.trials.following.expires.UTC().Format(time.RFC3339), next.ClusterVersion)
			} else {
				logger.Infof("following configuration version %d of the node and %d of the cluster", next.NodeVersion, next.ClusterVersion)
			}
		}
		if last == nil || !proto.Equal(last.Effective.GetKubelet(), next.Effective.GetKubelet()) {
			s.kubeletConfig.Set(next.Effective.GetKubelet())
		}
		last = next
		s.configuration.Set(next)
	}
}

// trials is what the node remembers of its configuration's trials while it runs: the one it
// follows, those it reverted, and what it says of the last. mergeConfiguration alone uses it;
// it outlives that runnable's restarts. After a reboot the node knows only the record: an
// expired trial is not followed (decideTrial), a running one is followed until it expires.
type trials struct {
	following *trialKey
	reverted  map[trialKey]bool
	note      string
}

// KubeletConfiguration follows the kubelet reservations of the node's configuration; a new
// value only when they change (each restarts the kubelet).
func (s *Service) KubeletConfiguration() event.Watcher[*apb.KubeletConfiguration] {
	return s.kubeletConfig.Watch()
}

// configurationStatus is what the node reports of its configuration: the versions it has
// applied, the trial it runs, and what it could not apply.
func configurationStatus(a *applied, at time.Time) *apb.NodeConfigurationStatus {
	if a == nil || a.configuration == nil {
		return nil
	}
	c := a.configuration
	return &apb.NodeConfigurationStatus{
		NodeVersion: c.NodeVersion, ClusterVersion: c.ClusterVersion, Applied: timestamppb.New(at),
		Errors: a.errors, TrialVersion: c.TrialVersion, Reverted: c.Reverted,
	}
}
