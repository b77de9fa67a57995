package curator

import (
	"slices"
	"testing"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

// TestWatchedSetAnnouncesEntriesAndExits checks the events of an "UP nodes" watch for a
// sequence of changes.
func TestWatchedSetAnnouncesEntriesAndExits(t *testing.T) {
	up := func(n *cpb.NodeRecord) bool { return n.GetState() == apb.NodeState_NODE_STATE_UP }
	rec := func(id string, state apb.NodeState) *cpb.NodeRecord { return &cpb.NodeRecord{Id: id, State: state} }
	set := newWatchedSet(up)
	for _, step := range []struct {
		name       string
		changes    []nodeChange
		nodes      []string
		tombstones []string
	}{
		{"initial state: only UP nodes are sent",
			[]nodeChange{{"a", rec("a", stUp)}, {"b", rec("b", stNew)}}, []string{"a"}, nil},
		{"a node becoming UP is sent",
			[]nodeChange{{"b", rec("b", stUp)}}, []string{"b"}, nil},
		{"a watched node leaving UP gets a tombstone",
			[]nodeChange{{"a", rec("a", stGone)}}, nil, []string{"a"}},
		{"a node that was never sent gets no tombstone",
			[]nodeChange{{"c", rec("c", stNew)}, {"c", nil}}, nil, nil},
		{"several changes of one node collapse into the last",
			[]nodeChange{{"b", rec("b", stGone)}, {"b", rec("b", stUp)}}, []string{"b"}, nil},
		{"a deleted key gets a tombstone",
			[]nodeChange{{"b", nil}}, nil, []string{"b"}},
	} {
		ev := set.event(step.changes)
		var nodes, tombs []string
		for _, n := range ev.GetNodes() {
			nodes = append(nodes, n.GetId())
		}
		for _, tb := range ev.GetNodeTombstones() {
			tombs = append(tombs, tb.GetNodeId())
		}
		if !slices.Equal(nodes, step.nodes) || !slices.Equal(tombs, step.tombstones) {
			t.Errorf("%s: nodes %v, tombstones %v; want %v, %v", step.name, nodes, tombs, step.nodes, step.tombstones)
		}
	}
}
