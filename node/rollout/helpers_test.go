package rollout

import (
	"fmt"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
)

var (
	t0    = time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	rel1  = &apb.BundleManifest{Version: "1.0.0", BuildId: "b1"}
	rel2  = &apb.BundleManifest{Version: "2.0.0", BuildId: "b2"}
	roles = map[string]func(*Node){
		"consensus":  func(n *Node) { n.ConsensusMember, n.ConsensusHealthy = true, true },
		"controller": func(n *Node) { n.KubernetesController = true },
		"worker": func(n *Node) {
			n.KubernetesWorker = true
			n.Kubernetes = &KubernetesNode{Ready: true}
		},
	}
)

// running is software running release r, committed in slot A.
func running(r *apb.BundleManifest) *apb.NodeSoftware {
	return &apb.NodeSoftware{Version: r.Version, BuildId: r.BuildId, RunningSlot: "A", Slots: []*apb.Slot{
		{Name: "A", State: apb.SlotState_SLOT_STATE_COMMITTED, Version: r.Version, BuildId: r.BuildId},
		{Name: "B", State: apb.SlotState_SLOT_STATE_EMPTY},
	}}
}

// node is an up node running release 1 with the roles named.
func node(id string, roleNames ...string) Node {
	n := Node{ID: id, Up: true, Software: running(rel1)}
	for _, r := range roleNames {
		roles[r](&n)
	}
	return n
}

func view(at time.Duration, nodes ...Node) View {
	v := View{Now: t0.Add(at), Nodes: map[string]Node{}}
	for _, n := range nodes {
		v.Nodes[n.ID] = n
	}
	return v
}

// withOther is n with its other slot (B) holding release r in state s, installed by target.
func withOther(n Node, r *apb.BundleManifest, s apb.SlotState, target, reason string) Node {
	sw := running(&apb.BundleManifest{Version: n.Software.Version, BuildId: n.Software.BuildId})
	sw.Slots[1] = &apb.Slot{Name: "B", State: s, Version: r.Version, BuildId: r.BuildId, RolloutId: target, RollbackReason: reason}
	n.Software = sw
	return n
}

// updated is n running release r from slot B, committed.
func updated(n Node, r *apb.BundleManifest, target string) Node {
	n.Software = &apb.NodeSoftware{Version: r.Version, BuildId: r.BuildId, RunningSlot: "B", Slots: []*apb.Slot{
		{Name: "A", State: apb.SlotState_SLOT_STATE_PREVIOUS, Version: n.Software.Version, BuildId: n.Software.BuildId},
		{Name: "B", State: apb.SlotState_SLOT_STATE_COMMITTED, Version: r.Version, BuildId: r.BuildId, RolloutId: target},
	}}
	return n
}

// phases lists each node's phase and message, for comparing a plan in one line.
func phases(r *apb.Rollout) string {
	s := ""
	for _, rn := range r.Nodes {
		s += fmt.Sprintf("%s:%s ", rn.NodeId, phaseShort(rn.Phase))
	}
	return s + StateWords(r.State)
}

func phaseShort(p apb.RolloutPhase) string {
	return map[apb.RolloutPhase]string{
		apb.RolloutPhase_ROLLOUT_PHASE_PENDING:    "pending",
		apb.RolloutPhase_ROLLOUT_PHASE_DRAINING:   "draining",
		apb.RolloutPhase_ROLLOUT_PHASE_INSTALLING: "installing",
		apb.RolloutPhase_ROLLOUT_PHASE_REBOOTING:  "rebooting",
		apb.RolloutPhase_ROLLOUT_PHASE_RETURNING:  "returning",
		apb.RolloutPhase_ROLLOUT_PHASE_DONE:       "done",
		apb.RolloutPhase_ROLLOUT_PHASE_FAILED:     "failed",
		apb.RolloutPhase_ROLLOUT_PHASE_SKIPPED:    "skipped",
	}[p]
}

func nodeOf(r *apb.Rollout, id string) *apb.RolloutNode {
	for _, rn := range r.Nodes {
		if rn.NodeId == id {
			return rn
		}
	}
	return nil
}
