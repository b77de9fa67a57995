package curator

import (
	"slices"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

// TestOrphanWatch follows learners through several looks of the leader's promoter and checks
// which it would remove: only learners no consensus member accounts for, and only once they
// have been unaccounted for at every look during the grace period.
func TestOrphanWatch(t *testing.T) {
	const grace = time.Minute
	l := &leader{cfg: &Config{ConsensusPeerPort: 2380}}
	member := record(t, stUp, &cpb.NodeRoles{ConsensusMember: &cpb.ConsensusMember{}})
	member.Status = &apb.NodeStatus{ExternalAddress: "192.0.2.10"}
	withoutRole := record(t, stUp, nil)
	withoutRole.Status = &apb.NodeStatus{ExternalAddress: "192.0.2.11"}
	nodes := []*cpb.NodeRecord{member, withoutRole}

	unstartedOfMember := &etcdserverpb.Member{ID: 1, IsLearner: true, PeerURLs: []string{"https://192.0.2.10:2380"}}
	startedOfMember := &etcdserverpb.Member{ID: 2, IsLearner: true, Name: member.GetId(), PeerURLs: []string{"https://192.0.2.10:2380"}}
	unstartedOfNoRole := &etcdserverpb.Member{ID: 3, IsLearner: true, PeerURLs: []string{"https://192.0.2.11:2380"}}
	startedOfNoRole := &etcdserverpb.Member{ID: 4, IsLearner: true, Name: withoutRole.GetId(), PeerURLs: []string{"https://192.0.2.11:2380"}}
	voterOfNoRole := &etcdserverpb.Member{ID: 5, Name: withoutRole.GetId(), PeerURLs: []string{"https://192.0.2.11:2380"}}

	watch := newOrphanWatch(grace)
	start := time.Now()
	for _, c := range []struct {
		name    string
		members []*etcdserverpb.Member
		nodes   []*cpb.NodeRecord
		after   time.Duration // since start
		want    []uint64      // IDs to remove
	}{
		{"learners of a consensus member are never orphans", []*etcdserverpb.Member{unstartedOfMember, startedOfMember}, nodes, 0, nil},
		{"a voter is never touched", []*etcdserverpb.Member{voterOfNoRole}, nodes, 0, nil},
		{"an unaccounted learner is first only noted", []*etcdserverpb.Member{unstartedOfNoRole, startedOfNoRole}, nodes, 0, nil},
		{"within the grace period it stays", []*etcdserverpb.Member{unstartedOfNoRole, startedOfNoRole}, nodes, grace / 2, nil},
		{"a learner accounted for in between starts over", []*etcdserverpb.Member{unstartedOfNoRole, startedOfNoRole},
			[]*cpb.NodeRecord{member, withRole(withoutRole)}, grace / 2, nil},
		{"after it was accounted for, the grace period counts again", []*etcdserverpb.Member{unstartedOfNoRole, startedOfNoRole}, nodes, grace, nil},
		{"unaccounted for during the whole grace period, both are due", []*etcdserverpb.Member{unstartedOfNoRole, startedOfNoRole}, nodes, 2 * grace, []uint64{3, 4}},
		{"a learner that is gone is forgotten", nil, nodes, 2 * grace, nil},
		{"and noted afresh if it comes back", []*etcdserverpb.Member{unstartedOfNoRole}, nodes, 3 * grace, nil},
	} {
		got := ids(watch.due(c.members, l.learnerClaims(c.nodes), start.Add(c.after)))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: due %v, want %v", c.name, got, c.want)
		}
	}
}

func withRole(n *cpb.NodeRecord) *cpb.NodeRecord {
	n = clone(n)
	n.Roles = &cpb.NodeRoles{ConsensusMember: &cpb.ConsensusMember{}}
	return n
}

func ids(members []*etcdserverpb.Member) []uint64 {
	var out []uint64
	for _, m := range members {
		out = append(out, m.ID)
	}
	slices.Sort(out)
	return out
}
