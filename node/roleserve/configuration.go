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
// own with the cluster's defaults filled in (apb.EffectiveNodeConfiguration), and the versions
// it comes from, which the node reports as applied.
type Configuration struct {
	Effective      *apb.NodeConfiguration
	NodeVersion    uint64
	ClusterVersion uint64
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

// effectiveConfiguration is the pure merge behind Configuration.
func effectiveConfiguration(in *nodeConfigInput, cluster *apb.StoredClusterConfiguration) *Configuration {
	return &Configuration{
		Effective:      apb.EffectiveNodeConfiguration(in.stored.GetConfiguration(), cluster.GetConfiguration(), in.facts),
		NodeVersion:    in.stored.GetVersion(),
		ClusterVersion: cluster.GetVersion(),
	}
}

func (c *Configuration) equal(o *Configuration) bool {
	return c != nil && o != nil && c.NodeVersion == o.NodeVersion && c.ClusterVersion == o.ClusterVersion && proto.Equal(c.Effective, o.Effective)
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
// configuration change what it is.
func (s *Service) mergeConfiguration(ctx context.Context) error {
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
	var last *Configuration
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case apply := <-changes:
			apply()
		}
		if in == nil || cluster == nil {
			continue
		}
		next := effectiveConfiguration(in, cluster)
		if next.equal(last) {
			continue
		}
		if last == nil || last.NodeVersion != next.NodeVersion || last.ClusterVersion != next.ClusterVersion {
			supervisor.Logger(ctx).Infof("following configuration version %d of the node and %d of the cluster", next.NodeVersion, next.ClusterVersion)
		}
		if last == nil || !proto.Equal(last.Effective.GetKubelet(), next.Effective.GetKubelet()) {
			s.kubeletConfig.Set(next.Effective.GetKubelet())
		}
		last = next
		s.configuration.Set(next)
	}
}

// KubeletConfiguration follows the kubelet reservations of the node's configuration; a new
// value only when they change (each restarts the kubelet).
func (s *Service) KubeletConfiguration() event.Watcher[*apb.KubeletConfiguration] {
	return s.kubeletConfig.Watch()
}

// configurationStatus is what the node reports of its configuration: the versions its
// services follow.
func configurationStatus(c *Configuration, applied time.Time) *apb.NodeConfigurationStatus {
	if c == nil {
		return nil
	}
	return &apb.NodeConfigurationStatus{
		NodeVersion: c.NodeVersion, ClusterVersion: c.ClusterVersion, Applied: timestamppb.New(applied),
		Errors: notFollowed(c.Effective),
	}
}

// notFollowed names what the node is configured with but does not apply yet, so that the
// operator sees it in the node's status instead of believing it applied.
func notFollowed(c *apb.NodeConfiguration) []string {
	var out []string
	if len(c.GetNameservers()) > 0 {
		out = append(out, "nameservers: not applied by this release: the node resolves with the DNS servers of its boot parameters or DHCP lease")
	}
	return out
}
