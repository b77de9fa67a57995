package rollout

import (
	"time"

	apb "metropolis.dev/metropolis/api/v1"
)

// View is what the curator leader sees of the cluster at one moment.
type View struct {
	// Now is the time of the view; every deadline is measured against it.
	Now time.Time
	// Nodes are the cluster's nodes by ID. A node missing here was deleted.
	Nodes map[string]Node
}

// Node is one node as a rollout needs to see it.
type Node struct {
	ID string
	// Up is true for a node in state UP whose heartbeat is fresh.
	Up bool
	// Roles the node holds.
	ConsensusMember      bool
	KubernetesController bool
	KubernetesWorker     bool
	// ConsensusHealthy is true for a consensus member whose etcd member votes and answers.
	ConsensusHealthy bool
	// Software is what the node last reported running; nil if it never did.
	Software *apb.NodeSoftware
	// Kubernetes is the node's Kubernetes node, for workers; nil if there is none (yet).
	Kubernetes *KubernetesNode
	// KubernetesUnknown, for a worker, says why its Kubernetes node could not be looked at
	// (the API is unreachable); "" when Kubernetes is known. A worker is then neither drained
	// nor let back, and no worker starts, until it is known again.
	KubernetesUnknown string
}

// KubernetesNode is the part of a Kubernetes Node object a rollout looks at.
type KubernetesNode struct {
	Ready         bool
	Unschedulable bool
	// Evictable is how many pods on the node a drain still has to evict (DaemonSet pods and
	// mirror pods do not count: a drain leaves them).
	Evictable int
	// FirstEvictable names one of them, for messages.
	FirstEvictable string
	// CordonedByRollout: the node is unschedulable because a rollout cordoned it (it carries
	// the rollout's annotation), so the rollout uncordons it; a node an operator cordoned stays
	// cordoned.
	CordonedByRollout bool
}

// runs reports whether n runs release r, committed.
func (n Node) runs(r *apb.BundleManifest) bool {
	sw := n.Software
	if sw == nil || sw.GetBuildId() != r.GetBuildId() {
		return false
	}
	for _, s := range sw.GetSlots() {
		if s.GetName() == sw.GetRunningSlot() {
			return s.GetState() == apb.SlotState_SLOT_STATE_COMMITTED
		}
	}
	return false
}

// slotWith returns the node's slot holding release r installed by rollout id, if any.
func (n Node) slotWith(r *apb.BundleManifest, id string) *apb.Slot {
	for _, s := range n.Software.GetSlots() {
		if s.GetBuildId() == r.GetBuildId() && s.GetRolloutId() == id {
			return s
		}
	}
	return nil
}
