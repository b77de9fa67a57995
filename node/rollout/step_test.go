package rollout

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
)

// cluster3 is three consensus members (m1 the leader, m3 also a worker) and two workers.
func cluster3() []Node {
	return []Node{node("m1", "consensus"), node("m2", "consensus", "controller"), node("m3", "consensus", "worker"),
		node("w1", "worker"), node("w2", "worker")}
}

// plan starts a rollout to release 2 on cluster3 at t0, then puts the nodes named in phase,
// started at t0 and attempt 1.
func plan(t *testing.T, opts *apb.RolloutOptions, phase map[string]apb.RolloutPhase) *apb.Rollout {
	t.Helper()
	r, err := Start("rollout-1", rel2, opts, "m1", "m1", view(0, cluster3()...))
	if err != nil {
		t.Fatal(err)
	}
	for id, p := range phase {
		rn := nodeOf(r, id)
		rn.Phase, rn.Attempt, rn.Started, rn.PhaseSince = p, 1, timestamppb.New(t0), timestamppb.New(t0)
	}
	return r
}

const (
	pending    = apb.RolloutPhase_ROLLOUT_PHASE_PENDING
	draining   = apb.RolloutPhase_ROLLOUT_PHASE_DRAINING
	installing = apb.RolloutPhase_ROLLOUT_PHASE_INSTALLING
	rebooting  = apb.RolloutPhase_ROLLOUT_PHASE_REBOOTING
	returning  = apb.RolloutPhase_ROLLOUT_PHASE_RETURNING
	done       = apb.RolloutPhase_ROLLOUT_PHASE_DONE
	failed     = apb.RolloutPhase_ROLLOUT_PHASE_FAILED
)

// replace is cluster3 with some nodes replaced (by ID) and some removed.
func replace(drop []string, nodes ...Node) []Node {
	var out []Node
	for _, n := range cluster3() {
		keep := true
		for _, d := range drop {
			keep = keep && d != n.ID
		}
		for _, r := range nodes {
			if r.ID == n.ID {
				n, keep = r, true
			}
		}
		if keep {
			out = append(out, n)
		}
	}
	return out
}

func TestStep(t *testing.T) {
	const target = "rollout-1/1"
	sick := func(n Node) Node { n.ConsensusHealthy = false; return n }
	downNode := func(n Node) Node { n.Up = false; return n }
	kube := func(n Node, k KubernetesNode) Node { n.Kubernetes = &k; return n }
	paused := func(r *apb.Rollout) { r.State = apb.RolloutState_ROLLOUT_STATE_PAUSED }
	aborted := func(r *apb.Rollout) { r.State = apb.RolloutState_ROLLOUT_STATE_ABORTED }
	for _, tc := range []struct {
		name   string
		opts   *apb.RolloutOptions
		phase  map[string]apb.RolloutPhase
		modify func(*apb.Rollout)
		at     time.Duration
		nodes  []Node
		want   string
		// wantSaid, if set, must be in the named node's message ("node:text") or, for
		// "rollout:text", in the rollout's reason.
		wantSaid string
	}{
		{
			name:  "the first consensus member starts installing (no worker role: no drain)",
			nodes: cluster3(),
			want:  "m2:installing m3:pending m1:pending w1:pending w2:pending running",
		},
		{
			name:     "a member waits while another member is unhealthy",
			nodes:    replace(nil, sick(node("m3", "consensus", "worker"))),
			want:     "m2:pending m3:pending m1:pending w1:pending w2:pending running",
			wantSaid: "m2:consensus member m3 to be healthy",
		},
		{
			name:     "a member waits while another member is down",
			nodes:    replace(nil, downNode(node("m1", "consensus"))),
			want:     "m2:pending m3:pending m1:pending w1:pending w2:pending running",
			wantSaid: "m2:consensus member m1 to be healthy",
		},
		{
			name:     "with two members left, a member waits for a third (no --force)",
			nodes:    replace([]string{"m3"}),
			want:     "m2:pending m3:skipped m1:pending w1:pending w2:pending running",
			wantSaid: "m2:waiting for a third consensus member",
		},
		{
			name:  "with two members left and --force, a member starts",
			opts:  &apb.RolloutOptions{Force: true},
			nodes: replace([]string{"m3"}),
			want:  "m2:installing m3:skipped m1:pending w1:pending w2:pending running",
		},
		{
			name:  "one member at a time",
			phase: map[string]apb.RolloutPhase{"m2": installing},
			nodes: cluster3(),
			want:  "m2:installing m3:pending m1:pending w1:pending w2:pending running",
		},
		{
			name:  "staged in the other slot by this attempt: rebooting",
			phase: map[string]apb.RolloutPhase{"m2": installing},
			nodes: replace(nil, withOther(node("m2", "consensus", "controller"), rel2, apb.SlotState_SLOT_STATE_STAGED, target, "")),
			want:  "m2:rebooting m3:pending m1:pending w1:pending w2:pending running",
		},
		{
			name:  "staged by another rollout: still installing",
			phase: map[string]apb.RolloutPhase{"m2": installing},
			nodes: replace(nil, withOther(node("m2", "consensus", "controller"), rel2, apb.SlotState_SLOT_STATE_STAGED, "rollout-0/1", "")),
			want:  "m2:installing m3:pending m1:pending w1:pending w2:pending running",
		},
		{
			name:  "runs the release and is healthy: done, and the next member starts (drained: it is a worker)",
			phase: map[string]apb.RolloutPhase{"m2": rebooting},
			nodes: replace(nil, updated(node("m2", "consensus", "controller"), rel2, target)),
			want:  "m2:done m3:draining m1:pending w1:pending w2:pending running",
		},
		{
			name:     "runs the release, its etcd member not yet healthy: returning",
			phase:    map[string]apb.RolloutPhase{"m2": rebooting},
			nodes:    replace(nil, sick(updated(node("m2", "consensus", "controller"), rel2, target))),
			want:     "m2:returning m3:pending m1:pending w1:pending w2:pending running",
			wantSaid: "m2:etcd member",
		},
		{
			name:     "rolled back by this attempt: failed, halted",
			phase:    map[string]apb.RolloutPhase{"m2": rebooting},
			nodes:    replace(nil, withOther(node("m2", "consensus", "controller"), rel2, apb.SlotState_SLOT_STATE_ROLLED_BACK, target, "the node program exited")),
			want:     "m2:failed m3:pending m1:pending w1:pending w2:pending halted",
			wantSaid: "rollout:node m2 failed: rolled back to 1.0.0: the node program exited",
		},
		{
			name:  "gave up on this attempt before rebooting: failed, halted",
			phase: map[string]apb.RolloutPhase{"m2": installing},
			nodes: replace(nil, func() Node {
				n := node("m2", "consensus", "controller")
				n.Software.LastFailure = &apb.UpdateFailure{RolloutId: target, Message: "no node to fetch the bundle from"}
				return n
			}()),
			want:     "m2:failed m3:pending m1:pending w1:pending w2:pending halted",
			wantSaid: "m2:gave up before rebooting: no node to fetch",
		},
		{
			name:  "rolled back by an older attempt: not this attempt's failure",
			phase: map[string]apb.RolloutPhase{"m2": installing},
			nodes: replace(nil, withOther(node("m2", "consensus", "controller"), rel2, apb.SlotState_SLOT_STATE_ROLLED_BACK, "rollout-1/0", "old")),
			want:  "m2:installing m3:pending m1:pending w1:pending w2:pending running",
		},
		{
			name:     "not back within the node timeout: failed, halted",
			phase:    map[string]apb.RolloutPhase{"m2": rebooting},
			at:       DefaultNodeTimeout + time.Second,
			nodes:    replace(nil, downNode(node("m2", "consensus", "controller"))),
			want:     "m2:failed m3:pending m1:pending w1:pending w2:pending halted",
			wantSaid: "m2:not back on 2.0.0 within 30m0s",
		},
		{
			name:     "a worker being cordoned",
			phase:    map[string]apb.RolloutPhase{"m2": done, "m3": draining},
			nodes:    cluster3(),
			want:     "m2:done m3:draining m1:pending w1:pending w2:pending running",
			wantSaid: "m3:cordoning",
		},
		{
			name:     "a worker being drained",
			phase:    map[string]apb.RolloutPhase{"m2": done, "m3": draining},
			nodes:    replace(nil, kube(node("m3", "consensus", "worker"), KubernetesNode{Ready: true, Unschedulable: true, Evictable: 2})),
			want:     "m2:done m3:draining m1:pending w1:pending w2:pending running",
			wantSaid: "m3:evicting 2 pod(s)",
		},
		{
			name:  "a drained worker installs",
			phase: map[string]apb.RolloutPhase{"m2": done, "m3": draining},
			nodes: replace(nil, kube(node("m3", "consensus", "worker"), KubernetesNode{Ready: true, Unschedulable: true})),
			want:  "m2:done m3:installing m1:pending w1:pending w2:pending running",
		},
		{
			name:     "a drain past its timeout: failed, names a pod",
			phase:    map[string]apb.RolloutPhase{"m2": done, "m3": draining},
			at:       DefaultDrainTimeout + time.Second,
			nodes:    replace(nil, kube(node("m3", "consensus", "worker"), KubernetesNode{Ready: true, Unschedulable: true, Evictable: 1, FirstEvictable: "default/db-0"})),
			want:     "m2:done m3:failed m1:pending w1:pending w2:pending halted",
			wantSaid: "m3:default/db-0",
		},
		{
			name:     "a returning worker waits for Ready",
			phase:    map[string]apb.RolloutPhase{"m2": done, "m3": returning},
			nodes:    replace(nil, kube(updated(node("m3", "consensus", "worker"), rel2, target), KubernetesNode{Unschedulable: true})),
			want:     "m2:done m3:returning m1:pending w1:pending w2:pending running",
			wantSaid: "m3:Ready",
		},
		{
			name:     "a Ready returning worker waits to be uncordoned",
			phase:    map[string]apb.RolloutPhase{"m2": done, "m3": returning},
			nodes:    replace(nil, kube(updated(node("m3", "consensus", "worker"), rel2, target), KubernetesNode{Ready: true, Unschedulable: true, CordonedByRollout: true})),
			want:     "m2:done m3:returning m1:pending w1:pending w2:pending running",
			wantSaid: "m3:uncordoning",
		},
		{
			name:  "a Ready returning worker an operator had cordoned is back (and stays cordoned)",
			phase: map[string]apb.RolloutPhase{"m2": done, "m3": returning},
			nodes: replace(nil, kube(updated(node("m3", "consensus", "worker"), rel2, target), KubernetesNode{Ready: true, Unschedulable: true})),
			want:  "m2:done m3:done m1:installing w1:pending w2:pending running",
		},
		{
			name:  "a draining worker waits while the Kubernetes API is unreachable",
			phase: map[string]apb.RolloutPhase{"m2": done, "m3": draining},
			nodes: replace(nil, func() Node {
				n := node("m3", "consensus", "worker")
				n.KubernetesUnknown = "connection refused"
				return n
			}()),
			want:     "m2:done m3:draining m1:pending w1:pending w2:pending running",
			wantSaid: "m3:waiting for the Kubernetes API to drain the node: connection refused",
		},
		{
			name:     "a worker does not start while the Kubernetes API is unreachable",
			phase:    map[string]apb.RolloutPhase{"m2": done, "m3": done, "m1": done},
			nodes:    replace(nil, func() Node { n := node("w1", "worker"); n.KubernetesUnknown = "timeout"; return n }()),
			want:     "m2:done m3:done m1:done w1:pending w2:pending running",
			wantSaid: "w1:waiting for the Kubernetes API",
		},
		{
			name:  "workers wait for the consensus members",
			opts:  &apb.RolloutOptions{MaxUnavailable: 2},
			phase: map[string]apb.RolloutPhase{"m2": done, "m3": done, "m1": rebooting},
			nodes: cluster3(),
			want:  "m2:done m3:done m1:rebooting w1:pending w2:pending running",
		},
		{
			name:  "workers go max_unavailable at a time",
			opts:  &apb.RolloutOptions{MaxUnavailable: 2},
			phase: map[string]apb.RolloutPhase{"m2": done, "m3": done, "m1": done},
			nodes: cluster3(),
			want:  "m2:done m3:done m1:done w1:draining w2:draining running",
		},
		{
			name:  "one worker at a time by default",
			phase: map[string]apb.RolloutPhase{"m2": done, "m3": done, "m1": done},
			nodes: cluster3(),
			want:  "m2:done m3:done m1:done w1:draining w2:pending running",
		},
		{
			name:  "the last node done: the rollout is done",
			phase: map[string]apb.RolloutPhase{"m2": done, "m3": done, "m1": done, "w1": done, "w2": returning},
			nodes: replace(nil, updated(node("w2", "worker"), rel2, target)),
			want:  "m2:done m3:done m1:done w1:done w2:done done",
		},
		{
			name:  "a node deleted before its turn is skipped",
			phase: map[string]apb.RolloutPhase{"m2": done, "m3": done, "m1": done},
			nodes: replace([]string{"w1"}),
			want:  "m2:done m3:done m1:done w1:skipped w2:draining running",
		},
		{
			name:  "a node deleted during its update is skipped",
			phase: map[string]apb.RolloutPhase{"m2": done, "m3": done, "m1": done, "w1": rebooting},
			nodes: replace([]string{"w1"}),
			want:  "m2:done m3:done m1:done w1:skipped w2:draining running",
		},
		{
			name:     "a node already on the release is done when its turn comes",
			phase:    map[string]apb.RolloutPhase{"m2": done, "m3": done, "m1": done},
			nodes:    replace(nil, updated(node("w1", "worker"), rel2, "")),
			want:     "m2:done m3:done m1:done w1:done w2:draining running",
			wantSaid: "w1:already ran",
		},
		{
			name:     "a node down at its turn waits",
			phase:    map[string]apb.RolloutPhase{"m2": done, "m3": done, "m1": done},
			nodes:    replace(nil, downNode(node("w1", "worker"))),
			want:     "m2:done m3:done m1:done w1:pending w2:pending running",
			wantSaid: "w1:waiting for the node to be up",
		},
		{
			name:   "paused: the node in progress goes on, no other starts",
			phase:  map[string]apb.RolloutPhase{"m2": rebooting},
			modify: paused,
			nodes:  replace(nil, updated(node("m2", "consensus", "controller"), rel2, target)),
			want:   "m2:done m3:pending m1:pending w1:pending w2:pending paused",
		},
		{
			name:   "paused, and the node in progress fails: halted",
			phase:  map[string]apb.RolloutPhase{"m2": rebooting},
			modify: paused,
			nodes:  replace(nil, withOther(node("m2", "consensus", "controller"), rel2, apb.SlotState_SLOT_STATE_ROLLED_BACK, target, "x")),
			want:   "m2:failed m3:pending m1:pending w1:pending w2:pending halted",
		},
		{
			name:   "aborted: a draining node is left, an installing one finishes",
			phase:  map[string]apb.RolloutPhase{"m2": done, "m3": done, "m1": done, "w1": draining, "w2": installing},
			opts:   &apb.RolloutOptions{MaxUnavailable: 2},
			modify: aborted,
			nodes:  replace(nil, withOther(node("w2", "worker"), rel2, apb.SlotState_SLOT_STATE_STAGED, target, "")),
			want:   "m2:done m3:done m1:done w1:skipped w2:rebooting aborted",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := plan(t, tc.opts, tc.phase)
			if tc.modify != nil {
				tc.modify(r)
			}
			before := phases(r)
			next, changed := Step(r, view(tc.at, tc.nodes...))
			if got := phases(next); got != tc.want {
				t.Errorf("after one step\n got %s\nwant %s", got, tc.want)
			}
			if phases(r) != before {
				t.Errorf("Step modified its input")
			}
			if changed != (next.Revision == r.Revision+1) || (!changed && next != r) {
				t.Errorf("changed %v, revision %d → %d", changed, r.Revision, next.Revision)
			}
			if tc.wantSaid != "" {
				who, what, _ := strings.Cut(tc.wantSaid, ":")
				said := next.Reason
				if who != "rollout" {
					said = nodeOf(next, who).Message
				}
				if !strings.Contains(said, what) {
					t.Errorf("%s says %q, want %q in it", who, said, what)
				}
			}
		})
	}
}

// TestStepWaitHalts: a node that may not start for longer than the node timeout halts the
// rollout, counting from when it began to wait, not from the rollout's start.
func TestStepWaitHalts(t *testing.T) {
	sick := node("m3", "consensus", "worker")
	sick.ConsensusHealthy = false
	r := plan(t, nil, nil)
	r, _ = Step(r, view(2*DefaultNodeTimeout, replace(nil, sick)...))
	if r.State != apb.RolloutState_ROLLOUT_STATE_RUNNING {
		t.Fatalf("halted on the first round of waiting: %s", r.Reason)
	}
	r, _ = Step(r, view(2*DefaultNodeTimeout+DefaultNodeTimeout/2, replace(nil, sick)...))
	if r.State != apb.RolloutState_ROLLOUT_STATE_RUNNING {
		t.Fatalf("halted within the timeout: %s", r.Reason)
	}
	r, _ = Step(r, view(3*DefaultNodeTimeout+time.Second, replace(nil, sick)...))
	if r.State != apb.RolloutState_ROLLOUT_STATE_HALTED || !strings.Contains(r.Reason, "node m2 could not start its update for 30m1s") {
		t.Fatalf("after waiting past the timeout: %s, %q", StateWords(r.State), r.Reason)
	}
}

// TestStepIsIdempotent: a step on an unchanged cluster changes nothing, so a new leader
// repeating the last round (or a round with nothing new) stores nothing.
func TestStepIsIdempotent(t *testing.T) {
	r := plan(t, nil, nil)
	v := view(time.Minute, cluster3()...)
	r, changed := Step(r, v)
	if !changed {
		t.Fatal("the first step started nothing")
	}
	if _, changed := Step(r, v); changed {
		t.Error("a second step on the same view changed the plan")
	}
}

// TestRolloutToTheEnd walks a whole rollout, each node reporting what it would, and checks
// the order the nodes went in.
func TestRolloutToTheEnd(t *testing.T) {
	r := plan(t, nil, nil)
	nodes := map[string]Node{}
	for _, n := range cluster3() {
		nodes[n.ID] = n
	}
	var order []string
	for round := 0; round < 100 && r.State == apb.RolloutState_ROLLOUT_STATE_RUNNING; round++ {
		var ns []Node
		for _, n := range nodes {
			ns = append(ns, n)
		}
		r, _ = Step(r, view(time.Duration(round)*time.Minute, ns...))
		// Each node in progress does its part at once: cordoned and drained, updated, Ready
		// and uncordoned as the rollout wants.
		for _, rn := range r.Nodes {
			n := nodes[rn.NodeId]
			w := WantFor(r, rn)
			if n.Kubernetes != nil {
				k := *n.Kubernetes
				if w.Cordoned {
					k.Unschedulable = true
				}
				if w.Drained {
					k.Evictable = 0
				}
				if w.Uncordoned {
					k.Unschedulable = false
				}
				n.Kubernetes = &k
			}
			if w.Target != "" && n.Software.BuildId != rel2.BuildId {
				n = updated(n, rel2, w.Target)
				order = append(order, n.ID)
			}
			nodes[rn.NodeId] = n
		}
	}
	if r.State != apb.RolloutState_ROLLOUT_STATE_DONE {
		t.Fatalf("rollout %s: %s", StateWords(r.State), phases(r))
	}
	if got, want := strings.Join(order, " "), "m2 m3 m1 w1 w2"; got != want {
		t.Errorf("nodes updated in the order %s, want %s", got, want)
	}
}

// TestStepHolders: nodes that report keeping the bundle become holders after those listed;
// a holder deleted from the cluster is dropped.
func TestStepHolders(t *testing.T) {
	r := plan(t, nil, nil)
	r.BundleSha256 = []byte("sum")
	keeps := func(n Node) Node {
		n.Software = running(rel1)
		n.Software.KeptBundles = [][]byte{[]byte("other"), []byte("sum")}
		return n
	}
	next, _ := Step(r, view(0, replace(nil, keeps(node("w2", "worker")), keeps(node("m3", "consensus", "worker")))...))
	if got := strings.Join(next.BundleHolders, " "); got != "m1 m3 w2" {
		t.Errorf("holders %s, want m1 m3 w2", got)
	}
	next, _ = Step(next, view(0, replace([]string{"m1"}, keeps(node("w2", "worker")), keeps(node("m3", "consensus", "worker")))...))
	if got := strings.Join(next.BundleHolders, " "); got != "m3 w2" {
		t.Errorf("holders after m1 was deleted: %s, want m3 w2", got)
	}
}
