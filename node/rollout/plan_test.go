package rollout

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestStartRefuses(t *testing.T) {
	three := []Node{node("n1", "consensus"), node("n2", "consensus"), node("n3", "consensus", "worker")}
	sick := node("n2", "consensus")
	sick.ConsensusHealthy = false
	down := node("w1", "worker")
	down.Up = false
	for _, tc := range []struct {
		name    string
		release *apb.BundleManifest
		opts    *apb.RolloutOptions
		nodes   []Node
		wantErr string // "" for no error
	}{
		{"three healthy members", rel2, nil, three, ""},
		{"two members", rel2, nil, three[:2], "2 consensus member(s)"},
		{"two members, forced", rel2, &apb.RolloutOptions{Force: true}, three[:2], ""},
		{"one member", rel2, nil, three[:1], "1 consensus member(s)"},
		{"unhealthy member", rel2, nil, []Node{three[0], sick, three[2]}, "consensus member n2 is not healthy"},
		{"a node down", rel2, nil, append(three[:3:3], down), "node w1 is not up"},
		{"a node down, forced", rel2, &apb.RolloutOptions{Force: true}, append(three[:3:3], down), ""},
		{"no nodes", rel2, nil, nil, "no nodes"},
		{"no build ID", &apb.BundleManifest{Version: "2"}, nil, three, "build ID"},
		{"max_unavailable negative", rel2, &apb.RolloutOptions{MaxUnavailable: -1}, three, "max_unavailable: -1"},
		{"max_unavailable huge", rel2, &apb.RolloutOptions{MaxUnavailable: 5000}, three, "max_unavailable: 5000"},
		{"drain timeout too short", rel2, &apb.RolloutOptions{DrainTimeout: durationpb.New(time.Second)}, three, "drain_timeout: 1s"},
		{"node timeout too long", rel2, &apb.RolloutOptions{NodeTimeout: durationpb.New(48 * time.Hour)}, three, "node_timeout: 48h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start("r", tc.release, tc.opts, "n1", "n1", view(0, tc.nodes...))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("started; want an error with %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q does not say %q", err, tc.wantErr)
			}
		})
	}
}

func TestStartOrders(t *testing.T) {
	v := view(0,
		node("w2", "worker"), node("c1", "controller", "worker"), node("m3", "consensus", "controller"),
		node("w1", "worker"), node("m1", "consensus"), node("m2", "consensus", "worker"),
		updated(node("w0", "worker"), rel2, ""),
	)
	r, err := Start("rollout-1", rel2, nil, "m1", "m1", v)
	if err != nil {
		t.Fatal(err)
	}
	// Consensus members first with the leader (m1) last, then controllers, then workers; w0
	// already runs release 2.
	want := "m2:pending m3:pending m1:pending c1:pending w0:done w1:pending w2:pending running"
	if got := phases(r); got != want {
		t.Errorf("plan\n got %s\nwant %s", got, want)
	}
	if r.Options.MaxUnavailable != 1 || r.Options.DrainTimeout.AsDuration() != DefaultDrainTimeout || r.Options.NodeTimeout.AsDuration() != DefaultNodeTimeout {
		t.Errorf("options not defaulted: %v", r.Options)
	}
	if r.Revision != 1 || len(r.BundleHolders) != 1 || r.BundleHolders[0] != "m1" {
		t.Errorf("revision %d, holders %v; want 1, [m1]", r.Revision, r.BundleHolders)
	}
	if nodeOf(r, "m2").PreviousVersion != "1.0.0" {
		t.Errorf("previous version %q", nodeOf(r, "m2").PreviousVersion)
	}
}

func TestStartEverythingDone(t *testing.T) {
	r, err := Start("r", rel2, &apb.RolloutOptions{Force: true}, "n1", "n1", view(0, updated(node("n1", "consensus"), rel2, "")))
	if err != nil {
		t.Fatal(err)
	}
	if r.State != apb.RolloutState_ROLLOUT_STATE_DONE {
		t.Errorf("a cluster already on the release: rollout %s, want done", StateWords(r.State))
	}
}
