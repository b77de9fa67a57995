package consensus

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestBootstrapJoinPromoteRestartRemove walks a member through its life: the first member
// bootstraps, a second joins as a learner and is promoted, data written through one is read
// through the other, the first restarts from its data directory with nothing lost, and the
// second is removed and stops.
func TestBootstrapJoinPromoteRestartRemove(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ca := newCA(t)

	cfgA := testConfig(t, ca, "node-a")
	a := startMember(t, cfgA)
	clA := a.client(t)
	if _, err := clA.Put(ctx, "/before-join", "kept"); err != nil {
		t.Fatalf("put on bootstrapped member: %v", err)
	}

	cfgB := testConfig(t, ca, "node-b")
	members, err := AddLearner(ctx, clA, cfgB.Name, cfgB.PeerURL())
	if err != nil {
		t.Fatalf("add learner: %v", err)
	}
	if len(members) != 2 || members["node-a"] != cfgA.PeerURL() || members["node-b"] != cfgB.PeerURL() {
		t.Fatalf("initial cluster for the learner = %v, want node-a and node-b with their peer URLs", members)
	}
	again, err := AddLearner(ctx, clA, cfgB.Name, cfgB.PeerURL())
	if err != nil || len(again) != 2 {
		t.Fatalf("adding the same learner again = %v, %v; want the same two members", again, err)
	}
	cfgB.InitialCluster = members
	b := startMember(t, cfgB)
	clB := b.client(t)
	if err := PromoteLearner(ctx, clA, "node-b"); err != nil {
		t.Fatalf("promote: %v", err)
	}
	expectVoters(ctx, t, clA, "node-a", "node-b")

	if _, err := clB.Put(ctx, "/via-b", "written"); err != nil {
		t.Fatalf("put through the promoted member: %v", err)
	}
	expectValue(ctx, t, clA, "/via-b", "written")

	// Restart A from its data directory; its initial configuration is no longer used.
	a.stop()
	a = startMember(t, cfgA)
	clA = a.client(t)
	expectValue(ctx, t, clA, "/before-join", "kept")
	expectValue(ctx, t, clA, "/via-b", "written")

	if err := RemoveMember(ctx, clA, "node-b"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if err := RemoveMember(ctx, clA, "node-b"); err != nil {
		t.Fatalf("removing an absent member should succeed, got %v", err)
	}
	expectVoters(ctx, t, clA, "node-a")
}

func expectValue(ctx context.Context, t *testing.T, cl *clientv3.Client, key, want string) {
	t.Helper()
	resp, err := cl.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != want {
		t.Fatalf("get %s = %v, want %q", key, resp.Kvs, want)
	}
}

func expectVoters(ctx context.Context, t *testing.T, cl *clientv3.Client, names ...string) {
	t.Helper()
	list, err := cl.MemberList(ctx)
	if err != nil {
		t.Fatalf("member list: %v", err)
	}
	got := map[string]bool{}
	for _, m := range list.Members {
		if m.IsLearner {
			t.Errorf("member %s is still a learner", m.Name)
		}
		got[m.Name] = true
	}
	if len(got) != len(names) {
		t.Fatalf("members = %v, want %v", got, names)
	}
	for _, n := range names {
		if !got[n] {
			t.Fatalf("members = %v, want %v", got, names)
		}
	}
}
