package rollout

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
)

// Step is one round of the rollout: it moves every node in the middle of its update on as
// far as v shows it got, halts the rollout if one failed, and starts the next nodes if the
// rollout runs and the cluster is safe for it. It returns the new plan and whether it
// differs from r (then with its revision bumped, to be stored with a compare-and-set on r's).
// r is not modified.
func Step(r *apb.Rollout, v View) (*apb.Rollout, bool) {
	next := proto.Clone(r).(*apb.Rollout)
	updateHolders(next, v)
	for _, rn := range next.Nodes {
		if k := v.Nodes[rn.NodeId].Kubernetes; k != nil {
			rn.Cordoned = k.Unschedulable && k.CordonedByRollout
		}
	}
	for _, rn := range next.Nodes {
		advance(next, rn, v)
	}
	if next.State == apb.RolloutState_ROLLOUT_STATE_RUNNING {
		startNext(next, v)
	}
	finishIfDone(next, v.Now)
	if proto.Equal(r, next) {
		return r, false
	}
	next.Revision = r.Revision + 1
	return next, true
}

// updateHolders keeps r.BundleHolders to the nodes that keep the bundle: those listed before
// (in their order) unless deleted from the cluster, then those newly reporting it, by ID.
func updateHolders(r *apb.Rollout, v View) {
	var holders []string
	listed := map[string]bool{}
	for _, id := range r.BundleHolders {
		if _, ok := v.Nodes[id]; ok {
			holders = append(holders, id)
			listed[id] = true
		}
	}
	var added []string
	for id, n := range v.Nodes {
		if !listed[id] && slices.ContainsFunc(n.Software.GetKeptBundles(), func(s []byte) bool { return bytes.Equal(s, r.BundleSha256) }) {
			added = append(added, id)
		}
	}
	slices.Sort(added)
	r.BundleHolders = append(holders, added...)
}

// Target is how a rollout names one attempt of one node's update; the node keeps it with the
// slot it installs (metropolis.api.v1.Slot.rollout_id).
func Target(r *apb.Rollout, rn *apb.RolloutNode) string {
	return fmt.Sprintf("%s/%d", r.GetId(), rn.GetAttempt())
}

// inProgress reports whether a node is between PENDING and its end.
func inProgress(p apb.RolloutPhase) bool {
	switch p {
	case apb.RolloutPhase_ROLLOUT_PHASE_DRAINING, apb.RolloutPhase_ROLLOUT_PHASE_INSTALLING,
		apb.RolloutPhase_ROLLOUT_PHASE_REBOOTING, apb.RolloutPhase_ROLLOUT_PHASE_RETURNING:
		return true
	}
	return false
}

// finished reports whether a node needs nothing more from the rollout.
func finished(p apb.RolloutPhase) bool {
	return p == apb.RolloutPhase_ROLLOUT_PHASE_DONE || p == apb.RolloutPhase_ROLLOUT_PHASE_SKIPPED
}

// advance moves one node in the middle of its update to the phase v shows it reached, and
// skips nodes deleted from the cluster.
func advance(r *apb.Rollout, rn *apb.RolloutNode, v View) {
	n, ok := v.Nodes[rn.NodeId]
	switch {
	case !ok && rn.Phase == apb.RolloutPhase_ROLLOUT_PHASE_PENDING:
		setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_SKIPPED, "deleted from the cluster before its turn", v.Now)
		return
	case !inProgress(rn.Phase):
		return
	case !ok:
		setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_SKIPPED, "deleted from the cluster during its update", v.Now)
		return
	}
	if r.State == apb.RolloutState_ROLLOUT_STATE_ABORTED && rn.Phase == apb.RolloutPhase_ROLLOUT_PHASE_DRAINING {
		setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_SKIPPED, "the rollout was aborted while the node was drained", v.Now)
		return
	}
	nodeTimeout := r.Options.GetNodeTimeout().AsDuration()
	sinceStart := v.Now.Sub(rn.Started.AsTime())
	slot := n.slotWith(r.Release, Target(r, rn))
	if slot.GetState() == apb.SlotState_SLOT_STATE_ROLLED_BACK {
		fail(r, rn, fmt.Sprintf("rolled back to %s: %s", n.Software.GetVersion(), bounded(slot.GetRollbackReason())), v.Now)
		return
	}
	if f := n.Software.GetLastFailure(); f.GetRolloutId() == Target(r, rn) {
		fail(r, rn, "gave up before rebooting: "+bounded(f.GetMessage()), v.Now)
		return
	}
	switch rn.Phase {
	case apb.RolloutPhase_ROLLOUT_PHASE_DRAINING:
		k := n.Kubernetes
		switch {
		case n.KubernetesUnknown != "":
			setMessage(rn, "waiting for the Kubernetes API to drain the node: "+bounded(n.KubernetesUnknown))
		case k == nil || (k.Unschedulable && k.Evictable == 0):
			setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_INSTALLING, "", v.Now)
		case v.Now.Sub(rn.PhaseSince.AsTime()) > r.Options.GetDrainTimeout().AsDuration():
			fail(r, rn, fmt.Sprintf("not drained within %v: %d pod(s) left, among them %s (a PodDisruptionBudget may forbid its eviction)",
				r.Options.GetDrainTimeout().AsDuration(), k.Evictable, bounded(k.FirstEvictable)), v.Now)
		case !k.Unschedulable:
			setMessage(rn, "cordoning")
		default:
			setMessage(rn, fmt.Sprintf("evicting %d pod(s)", k.Evictable))
		}
		return
	case apb.RolloutPhase_ROLLOUT_PHASE_INSTALLING:
		switch {
		case n.runs(r.Release):
			setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_RETURNING, "", v.Now)
			advance(r, rn, v)
			return
		case slot.GetState() == apb.SlotState_SLOT_STATE_STAGED || slot.GetState() == apb.SlotState_SLOT_STATE_TRIAL:
			setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_REBOOTING, "", v.Now)
		}
	case apb.RolloutPhase_ROLLOUT_PHASE_REBOOTING:
		if n.runs(r.Release) {
			setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_RETURNING, "", v.Now)
			advance(r, rn, v)
			return
		}
	case apb.RolloutPhase_ROLLOUT_PHASE_RETURNING:
		if why := notBack(n); why == "" {
			setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_DONE, "", v.Now)
			return
		} else {
			setMessage(rn, why)
		}
	}
	if sinceStart > nodeTimeout {
		fail(r, rn, fmt.Sprintf("not back on %s within %v of its start (%s)", r.Release.GetVersion(), nodeTimeout, phaseWords(rn.Phase)), v.Now)
	}
}

// notBack says what a node running the release still lacks to be back in service; "" if
// nothing.
func notBack(n Node) string {
	switch {
	case !n.Up:
		return "waiting for the node to be up"
	case n.ConsensusMember && !n.ConsensusHealthy:
		return "waiting for its etcd member to be healthy"
	case n.KubernetesWorker && n.KubernetesUnknown != "":
		return "waiting for the Kubernetes API: " + bounded(n.KubernetesUnknown)
	case n.KubernetesWorker && (n.Kubernetes == nil || !n.Kubernetes.Ready):
		return "waiting for its Kubernetes node to be Ready"
	case n.KubernetesWorker && n.Kubernetes.Unschedulable && n.Kubernetes.CordonedByRollout:
		return "uncordoning"
	}
	return ""
}

// phaseWords says what a node was doing in phase p, for a timeout's message.
func phaseWords(p apb.RolloutPhase) string {
	switch p {
	case apb.RolloutPhase_ROLLOUT_PHASE_INSTALLING:
		return "it was still installing the release"
	case apb.RolloutPhase_ROLLOUT_PHASE_REBOOTING:
		return "it had installed the release but did not come back running it"
	case apb.RolloutPhase_ROLLOUT_PHASE_RETURNING:
		return "it runs the release but is not back in service"
	}
	return p.String()
}

// startNext starts the next nodes of the first group that has unfinished ones, as many as
// the group allows at once, in plan order, as long as each may start. A node that may not
// start yet says why; if it waits longer than the node timeout, the rollout halts.
func startNext(r *apb.Rollout, v View) {
	group, busy := currentGroup(r)
	if group == apb.RolloutGroup_ROLLOUT_GROUP_UNSPECIFIED {
		return
	}
	limit := 1
	if group == apb.RolloutGroup_ROLLOUT_GROUP_WORKER {
		limit = int(r.Options.GetMaxUnavailable())
	}
	for _, rn := range r.Nodes {
		if busy >= limit {
			return
		}
		if rn.Group != group || rn.Phase != apb.RolloutPhase_ROLLOUT_PHASE_PENDING {
			continue
		}
		n := v.Nodes[rn.NodeId] // advance skipped the pending nodes that were deleted
		if n.runs(r.Release) {
			setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_DONE, "already ran the release", v.Now)
			continue
		}
		if why := mayNotStart(r, n, v); why != "" {
			if rn.Message == "" {
				// The wait starts now: phase_since of a pending node is when it began to wait.
				rn.PhaseSince = timestamppb.New(v.Now)
			}
			setMessage(rn, why)
			if waited := v.Now.Sub(rn.PhaseSince.AsTime()); waited > r.Options.GetNodeTimeout().AsDuration() {
				halt(r, fmt.Sprintf("node %s could not start its update for %v: %s", rn.NodeId, waited.Round(time.Second), why), v.Now)
			}
			return
		}
		rn.Attempt++
		rn.Started = timestamppb.New(v.Now)
		rn.PreviousVersion = n.Software.GetVersion()
		if n.KubernetesWorker {
			setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_DRAINING, "", v.Now)
		} else {
			setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_INSTALLING, "", v.Now)
		}
		busy++
	}
}

// currentGroup is the first group in plan order with a node that is not finished, and how
// many of its nodes are in the middle of their update.
func currentGroup(r *apb.Rollout) (apb.RolloutGroup, int) {
	group := apb.RolloutGroup_ROLLOUT_GROUP_UNSPECIFIED
	for _, rn := range r.Nodes {
		if !finished(rn.Phase) && (group == apb.RolloutGroup_ROLLOUT_GROUP_UNSPECIFIED || rn.Group < group) {
			group = rn.Group
		}
	}
	busy := 0
	for _, rn := range r.Nodes {
		if inProgress(rn.Phase) {
			busy++
		}
	}
	return group, busy
}

// mayNotStart says why node n may not start its update now; "" if it may.
func mayNotStart(r *apb.Rollout, n Node, v View) string {
	if !n.Up {
		return "waiting for the node to be up"
	}
	if n.KubernetesWorker && n.KubernetesUnknown != "" {
		return "waiting for the Kubernetes API to drain the node: " + bounded(n.KubernetesUnknown)
	}
	if !n.ConsensusMember {
		return ""
	}
	members := 0
	for _, o := range v.Nodes {
		if !o.ConsensusMember {
			continue
		}
		members++
		if o.ID != n.ID && (!o.ConsensusHealthy || !o.Up) {
			return fmt.Sprintf("waiting for consensus member %s to be healthy: with it unhealthy, rebooting this member loses quorum", o.ID)
		}
	}
	if members < 3 && !r.Options.GetForce() {
		return fmt.Sprintf("waiting for a third consensus member: with %d, rebooting one loses quorum", members)
	}
	return ""
}

// fail marks a node failed and halts the rollout, unless an operator already ended it.
func fail(r *apb.Rollout, rn *apb.RolloutNode, why string, now time.Time) {
	setPhase(rn, apb.RolloutPhase_ROLLOUT_PHASE_FAILED, why, now)
	halt(r, fmt.Sprintf("node %s failed: %s", rn.NodeId, why), now)
}

// halt stops a running or paused rollout, saying why.
func halt(r *apb.Rollout, why string, now time.Time) {
	switch r.State {
	case apb.RolloutState_ROLLOUT_STATE_RUNNING, apb.RolloutState_ROLLOUT_STATE_PAUSED:
		setState(r, apb.RolloutState_ROLLOUT_STATE_HALTED, why, now)
	}
}

// finishIfDone ends a rollout whose nodes are all done or skipped.
func finishIfDone(r *apb.Rollout, now time.Time) {
	if r.State == apb.RolloutState_ROLLOUT_STATE_ABORTED || r.State == apb.RolloutState_ROLLOUT_STATE_DONE {
		return
	}
	for _, rn := range r.Nodes {
		if !finished(rn.Phase) {
			return
		}
	}
	setState(r, apb.RolloutState_ROLLOUT_STATE_DONE, "", now)
}

func setState(r *apb.Rollout, s apb.RolloutState, reason string, now time.Time) {
	r.State = s
	r.Reason = reason
	r.StateSince = timestamppb.New(now)
}

func setPhase(rn *apb.RolloutNode, p apb.RolloutPhase, message string, now time.Time) {
	rn.Phase = p
	rn.Message = message
	rn.PhaseSince = timestamppb.New(now)
}

func setMessage(rn *apb.RolloutNode, message string) {
	rn.Message = message
}

// maxReported bounds what a plan repeats from a node's own report (a rollback reason, a
// pod's name), so a node cannot grow the plan without limit.
const maxReported = 512

func bounded(s string) string {
	if len(s) <= maxReported {
		return s
	}
	return s[:maxReported] + "…"
}
