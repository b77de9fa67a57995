package rollout

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
)

const (
	// DefaultDrainTimeout bounds one node's drain when the operator names no limit.
	DefaultDrainTimeout = 10 * time.Minute
	// DefaultNodeTimeout bounds one node's install, reboot and return when the operator names
	// no limit. Generous: under TCG a node takes minutes to boot, and a trial boot that hangs
	// costs the watchdog's two minutes and a second boot before the rollback is reported.
	DefaultNodeTimeout = 30 * time.Minute
	// maxMaxUnavailable bounds RolloutOptions.max_unavailable, so a typo cannot take down a
	// whole cluster's workers at once without the operator meaning it.
	maxMaxUnavailable = 1000
)

// Start makes the plan to move the cluster seen in v to release: every node, ordered into
// groups (consensus members, then controllers, then the rest), each pending, or done if it
// already runs the release. leader is the curator leader's node ID: it goes last among the
// consensus members, so the leadership moves once, not once per member. holder is the node
// that stores the uploaded bundle.
//
// It refuses a cluster that cannot lose a consensus member without losing quorum, or that
// has a node that is not up, unless opts.Force.
func Start(id string, release *apb.BundleManifest, opts *apb.RolloutOptions, leader, holder string, v View) (*apb.Rollout, error) {
	if release.GetVersion() == "" || release.GetBuildId() == "" {
		return nil, fmt.Errorf("release: a version and a build ID are required")
	}
	opts, err := ValidOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := CheckStart(opts, v); err != nil {
		return nil, err
	}
	r := &apb.Rollout{
		Id:            id,
		Release:       release,
		Options:       opts,
		State:         apb.RolloutState_ROLLOUT_STATE_RUNNING,
		Created:       timestamppb.New(v.Now),
		StateSince:    timestamppb.New(v.Now),
		BundleHolders: []string{holder},
		Revision:      1,
	}
	for _, n := range ordered(v, leader) {
		rn := &apb.RolloutNode{
			NodeId:          n.ID,
			Group:           groupOf(n),
			Phase:           apb.RolloutPhase_ROLLOUT_PHASE_PENDING,
			PhaseSince:      timestamppb.New(v.Now),
			PreviousVersion: n.Software.GetVersion(),
		}
		if n.runs(release) {
			rn.Phase = apb.RolloutPhase_ROLLOUT_PHASE_DONE
			rn.Message = "already ran the release"
		}
		r.Nodes = append(r.Nodes, rn)
	}
	finishIfDone(r, v.Now)
	return r, nil
}

// ValidOptions checks an operator's options, naming the field that is wrong, and returns them
// with the defaults filled in.
func ValidOptions(opts *apb.RolloutOptions) (*apb.RolloutOptions, error) {
	o := &apb.RolloutOptions{
		MaxUnavailable: opts.GetMaxUnavailable(),
		Force:          opts.GetForce(),
		DrainTimeout:   opts.GetDrainTimeout(),
		NodeTimeout:    opts.GetNodeTimeout(),
	}
	switch {
	case o.MaxUnavailable == 0:
		o.MaxUnavailable = 1
	case o.MaxUnavailable < 0 || o.MaxUnavailable > maxMaxUnavailable:
		return nil, fmt.Errorf("max_unavailable: %d is not between 1 and %d", o.MaxUnavailable, maxMaxUnavailable)
	}
	for _, d := range []struct {
		name string
		p    **durationpb.Duration
		def  time.Duration
	}{{"drain_timeout", &o.DrainTimeout, DefaultDrainTimeout}, {"node_timeout", &o.NodeTimeout, DefaultNodeTimeout}} {
		if *d.p == nil {
			*d.p = durationpb.New(d.def)
			continue
		}
		if err := (*d.p).CheckValid(); err != nil || (*d.p).AsDuration() < time.Minute || (*d.p).AsDuration() > 24*time.Hour {
			return nil, fmt.Errorf("%s: %v is not between 1m and 24h", d.name, (*d.p).AsDuration())
		}
	}
	return o, nil
}

// CheckStart refuses to start a rollout on the cluster seen in v unless it is safe (see
// Start) or opts.Force; a caller checks it before it takes a bundle in, and Start again.
func CheckStart(opts *apb.RolloutOptions, v View) error {
	if len(v.Nodes) == 0 {
		return fmt.Errorf("the cluster has no nodes to update")
	}
	if opts.GetForce() {
		return nil
	}
	if err := safeToStart(v); err != nil {
		return fmt.Errorf("%w (--force starts anyway)", err)
	}
	return nil
}

// safeToStart refuses a cluster that cannot lose one consensus member and keep quorum, or
// that has nodes which are not up (they could not take the update when their turn came).
func safeToStart(v View) error {
	var members, down []string
	var unhealthy []string
	for _, n := range v.Nodes {
		if !n.Up {
			down = append(down, n.ID)
		}
		if n.ConsensusMember {
			members = append(members, n.ID)
			if !n.ConsensusHealthy {
				unhealthy = append(unhealthy, n.ID)
			}
		}
	}
	slices.Sort(down)
	slices.Sort(unhealthy)
	switch {
	case len(unhealthy) > 0:
		return fmt.Errorf("consensus member %s is not healthy: while another member reboots, the cluster would have no quorum", strings.Join(unhealthy, ", "))
	case len(members) < 3:
		return fmt.Errorf("the cluster has %d consensus member(s): while one reboots the others have no quorum, and the Kubernetes API and every cluster change stop until it is back (or for good, if it does not come back); give three nodes the consensus role first", len(members))
	case len(down) > 0:
		return fmt.Errorf("node %s is not up: it could not take the update when its turn came; bring it back or delete it", strings.Join(down, ", "))
	}
	return nil
}

// groupOf is the group n updates in.
func groupOf(n Node) apb.RolloutGroup {
	switch {
	case n.ConsensusMember:
		return apb.RolloutGroup_ROLLOUT_GROUP_CONSENSUS
	case n.KubernetesController:
		return apb.RolloutGroup_ROLLOUT_GROUP_CONTROLLER
	default:
		return apb.RolloutGroup_ROLLOUT_GROUP_WORKER
	}
}

// ordered lists v's nodes in update order: by group, the leader last in its group, then by
// node ID so that every curator orders the same way.
func ordered(v View, leader string) []Node {
	nodes := make([]Node, 0, len(v.Nodes))
	for _, n := range v.Nodes {
		nodes = append(nodes, n)
	}
	slices.SortFunc(nodes, func(a, b Node) int {
		return cmp.Or(
			cmp.Compare(groupOf(a), groupOf(b)),
			compareBool(a.ID == leader, b.ID == leader),
			strings.Compare(a.ID, b.ID),
		)
	})
	return nodes
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}
