package consensus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestMembershipOfUnstartedLearners checks the membership helpers against a learner that was
// added but never started, as a node granted the consensus member role that never ran its
// member leaves behind: it has no name in etcd's list, only its peer URL.
func TestMembershipOfUnstartedLearners(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfgA := testConfig(t, newCA(t), "node-a")
	cl := startMember(t, cfgA).client(t)
	const urlB = "https://127.0.0.2:2380"

	for _, step := range []struct {
		name string
		do   func() error
		// wantErr is nil for success; wantMembers the member list after the step, started
		// members by name and unstarted ones as "unstarted at URL".
		wantErr     error
		wantMembers []string
	}{
		{"adding a learner leaves it unstarted", func() error {
			_, err := AddLearner(ctx, cl, "node-b", urlB)
			return err
		}, nil, []string{"node-a", "unstarted at " + urlB}},
		{"adding it again is the same learner", func() error {
			m, err := AddLearner(ctx, cl, "node-b", urlB)
			if err == nil && m["node-b"] != urlB {
				return fmt.Errorf("members %v do not give node-b its peer URL", m)
			}
			return err
		}, nil, []string{"node-a", "unstarted at " + urlB}},
		{"another node at a started member's peer URL is refused", func() error {
			_, err := AddLearner(ctx, cl, "node-c", cfgA.PeerURL())
			return err
		}, ErrPeerURLInUse, []string{"node-a", "unstarted at " + urlB}},
		{"removing by name alone misses the unstarted learner", func() error {
			return RemoveMember(ctx, cl, "node-b")
		}, nil, []string{"node-a", "unstarted at " + urlB}},
		{"removing with another peer URL misses it too", func() error {
			return RemoveNodeMember(ctx, cl, "node-b", "https://127.0.0.3:2380")
		}, nil, []string{"node-a", "unstarted at " + urlB}},
		{"removing another node at a started member's peer URL leaves that member", func() error {
			return RemoveNodeMember(ctx, cl, "node-c", cfgA.PeerURL())
		}, nil, []string{"node-a", "unstarted at " + urlB}},
		{"removing with the learner's peer URL removes it", func() error {
			return RemoveNodeMember(ctx, cl, "node-b", urlB)
		}, nil, []string{"node-a"}},
		{"removing it again succeeds", func() error {
			return RemoveNodeMember(ctx, cl, "node-b", urlB)
		}, nil, []string{"node-a"}},
		{"removing an absent member ID succeeds", func() error {
			return RemoveMemberByID(ctx, cl, 0x1234)
		}, nil, []string{"node-a"}},
	} {
		err := step.do()
		if (step.wantErr == nil && err != nil) || (step.wantErr != nil && !errors.Is(err, step.wantErr)) {
			t.Fatalf("%s: error %v, want %v", step.name, err, step.wantErr)
		}
		if got := memberSummary(ctx, t, cl); !slices.Equal(got, step.wantMembers) {
			t.Fatalf("%s: members %v, want %v", step.name, got, step.wantMembers)
		}
	}
}

// TestRemoveMemberByIDRemovesAnUnstartedLearner checks the removal the curator uses for a
// learner no node accounts for, which it knows only by its member ID.
func TestRemoveMemberByIDRemovesAnUnstartedLearner(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := startMember(t, testConfig(t, newCA(t), "node-a")).client(t)
	if _, err := AddLearner(ctx, cl, "node-b", "https://127.0.0.2:2380"); err != nil {
		t.Fatal(err)
	}
	list, err := cl.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Members {
		if m.Name == "" {
			if err := RemoveMemberByID(ctx, cl, m.ID); err != nil {
				t.Fatalf("remove member %x: %v", m.ID, err)
			}
		}
	}
	if got := memberSummary(ctx, t, cl); !slices.Equal(got, []string{"node-a"}) {
		t.Fatalf("members %v, want node-a alone", got)
	}
}

// memberSummary lists the members, sorted: started ones by name, unstarted by peer URL.
func memberSummary(ctx context.Context, t *testing.T, cl *clientv3.Client) []string {
	t.Helper()
	list, err := cl.MemberList(ctx)
	if err != nil {
		t.Fatalf("member list: %v", err)
	}
	var out []string
	for _, m := range list.Members {
		if m.Name != "" {
			out = append(out, m.Name)
		} else {
			out = append(out, fmt.Sprintf("unstarted at %v", m.PeerURLs[0]))
		}
	}
	slices.Sort(out)
	return out
}
