package curator

import (
	"context"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/rollout"
)

// rolloutView is what a rollout needs to see of the cluster now: every node's health, roles,
// software, and whether its etcd member votes. It also returns the node records it read.
//
// A consensus member counts as healthy when its node is up (heartbeats), its etcd member is
// a voting member, and it reports a running curator: its curator starts only once its member
// votes and has read from etcd, so this is the member serving, as far as the leader can see
// without dialling every member.
//
// The Kubernetes side of workers is added by addKubernetes.
func (l *leader) rolloutView(ctx context.Context, now time.Time) (rollout.View, []*cpb.NodeRecord, error) {
	nodes, err := l.nodes(ctx)
	if err != nil {
		return rollout.View{}, nil, err
	}
	list, err := l.etcd().MemberList(ctx)
	if err != nil {
		return rollout.View{}, nil, status.Errorf(codes.Unavailable, "list etcd members: %v", err)
	}
	voting := map[string]bool{}
	for _, m := range list.Members {
		if !m.IsLearner && m.Name != "" {
			voting[m.Name] = true
		}
	}
	v := rollout.View{Now: now, Nodes: map[string]rollout.Node{}}
	for _, n := range nodes {
		last, beaten := l.beats.lastBeat(n.GetId())
		up := nodeHealth(n.GetState(), last, beaten, l.since, now, l.cfg.HeartbeatTimeout) == apb.NodeHealth_NODE_HEALTH_HEALTHY
		r := rolesOf(n.GetRoles())
		v.Nodes[n.GetId()] = rollout.Node{
			ID:                   n.GetId(),
			Up:                   up,
			ConsensusMember:      r.consensus,
			ConsensusHealthy:     r.consensus && up && voting[n.GetId()] && n.GetStatus().GetRunningCurator() != nil,
			KubernetesController: r.controller,
			KubernetesWorker:     r.worker,
			Software:             n.GetStatus().GetSoftware(),
		}
	}
	return v, nodes, nil
}

// bundleSources are where a node fetches a rollout's bundle: the node management service of
// every node in the plan's bundle_holders (in that order) that is up and not the node itself.
func (l *leader) bundleSources(r *apb.Rollout, self string, v rollout.View, nodes []*cpb.NodeRecord) []*cpb.BundleSource {
	addrs := map[string]string{}
	for _, n := range nodes {
		addrs[n.GetId()] = n.GetStatus().GetExternalAddress()
	}
	var out []*cpb.BundleSource
	for _, id := range r.GetBundleHolders() {
		if id == self || !v.Nodes[id].Up || addrs[id] == "" {
			continue
		}
		out = append(out, &cpb.BundleSource{NodeId: id, Address: net.JoinHostPort(addrs[id], strconv.Itoa(l.cfg.NodeManagementPort))})
	}
	return out
}
