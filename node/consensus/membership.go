package consensus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Members maps member names (node IDs) to peer URLs: what a joining member starts with.
type Members map[string]string

// ErrPeerURLInUse is returned by AddLearner when another member already has the peer URL: two
// nodes reporting the same address must not share one member.
var ErrPeerURLInUse = errors.New("peer URL already belongs to another member")

// AddLearner adds a non-voting member and returns the member list the new member must start
// with. Adding a member whose name is already present, or again at the peer URL of a learner
// that has not started yet (and so has no name), returns the current list unchanged, so that a
// node retrying its join does not add itself twice. A started member of another name at the
// same peer URL is refused with ErrPeerURLInUse.
func AddLearner(ctx context.Context, cl *clientv3.Client, name, peerURL string) (Members, error) {
	list, err := cl.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	for _, m := range list.Members {
		if m.Name == name {
			return membersOf(list.Members, name, peerURL), nil
		}
	}
	for _, m := range list.Members {
		if !slices.Contains(m.PeerURLs, peerURL) {
			continue
		}
		if m.Name != "" {
			return nil, fmt.Errorf("add learner %s at %s: member %s has it: %w", name, peerURL, m.Name, ErrPeerURLInUse)
		}
		return membersOf(list.Members, name, peerURL), nil
	}
	var added *clientv3.MemberAddResponse
	if err := retryTransient(ctx, fmt.Sprintf("add learner %s at %s", name, peerURL), func() error {
		added, err = cl.MemberAddAsLearner(ctx, []string{peerURL})
		return err
	}); err != nil {
		return nil, err
	}
	return membersOf(added.Members, name, peerURL), nil
}

// membersOf builds the initial cluster for a new member. A member that has not started yet has
// no name in etcd's list; it is the one with the new member's peer URL.
func membersOf(list []*etcdserverpb.Member, name, peerURL string) Members {
	out := Members{}
	for _, m := range list {
		if len(m.PeerURLs) == 0 {
			continue
		}
		n := m.Name
		if n == "" && m.PeerURLs[0] == peerURL {
			n = name
		}
		if n != "" {
			out[n] = m.PeerURLs[0]
		}
	}
	return out
}

// PromoteLearner makes the named learner a voting member once it has caught up, retrying until
// ctx ends. Promoting a member that already votes succeeds.
func PromoteLearner(ctx context.Context, cl *clientv3.Client, name string) error {
	return retryTransient(ctx, "promote "+name, func() error {
		id, learner, err := memberByName(ctx, cl, name)
		if err != nil || !learner {
			return err
		}
		_, err = cl.MemberPromote(ctx, id)
		return err
	})
}

// RemoveMember removes the member named name. Removing a member that is not there succeeds, so
// that deleting a node can be retried. A member that has not started has no name yet; use
// RemoveNodeMember to catch that one too.
func RemoveMember(ctx context.Context, cl *clientv3.Client, name string) error {
	return RemoveNodeMember(ctx, cl, name, "")
}

// RemoveNodeMember removes the member of a node: the member named name or, if there is none, a
// member that has not started yet (it has no name in etcd's list) at peerURL, such as a learner
// added for a node that never ran it. An empty peerURL matches no unstarted member, and a
// started member at peerURL under another name is never touched. Removing a member that is not
// there succeeds, so that deleting a node can be retried.
func RemoveNodeMember(ctx context.Context, cl *clientv3.Client, name, peerURL string) error {
	return retryTransient(ctx, "remove member "+name, func() error {
		id, err := memberOfNode(ctx, cl, name, peerURL)
		if errors.Is(err, errNoSuchMember) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = cl.MemberRemove(ctx, id)
		return ignoreMemberNotFound(err) // removed concurrently
	})
}

// RemoveMemberByID removes the member with etcd member ID id, which the caller found in the
// member list (an unstarted member has nothing else to name it by). Removing a member that is
// not there succeeds.
func RemoveMemberByID(ctx context.Context, cl *clientv3.Client, id uint64) error {
	return retryTransient(ctx, fmt.Sprintf("remove member %x", id), func() error {
		_, err := cl.MemberRemove(ctx, id)
		return ignoreMemberNotFound(err)
	})
}

// transientErrors pass by themselves: a learner catches up, a member that was just restarted
// reconnects (etcd refuses membership changes that would otherwise risk quorum on a guess), a
// new leader is elected.
var transientErrors = []error{
	rpctypes.ErrGRPCLearnerNotReady,
	rpctypes.ErrGRPCUnhealthy,
	rpctypes.ErrGRPCLeaderChanged,
	rpctypes.ErrGRPCNoLeader,
}

func isTransient(err error) bool {
	for _, t := range transientErrors {
		if rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(t) {
			return true
		}
	}
	return false
}

// retryTransient calls f until it returns nil or an error that is not transient, or ctx ends.
func retryTransient(ctx context.Context, what string, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		if !isTransient(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: still failing with %v: %w", what, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

var errNoSuchMember = errors.New("no such member")

// ignoreMemberNotFound treats etcd's "member not found" as done: removals are idempotent.
func ignoreMemberNotFound(err error) error {
	if err != nil && rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(rpctypes.ErrGRPCMemberNotFound) {
		return nil
	}
	return err
}

func memberByName(ctx context.Context, cl *clientv3.Client, name string) (id uint64, learner bool, err error) {
	list, err := cl.MemberList(ctx)
	if err != nil {
		return 0, false, err
	}
	for _, m := range list.Members {
		if m.Name == name {
			return m.ID, m.IsLearner, nil
		}
	}
	return 0, false, fmt.Errorf("member %s: %w", name, errNoSuchMember)
}

// memberOfNode finds the member named name or, failing that, the unstarted member at peerURL.
func memberOfNode(ctx context.Context, cl *clientv3.Client, name, peerURL string) (uint64, error) {
	list, err := cl.MemberList(ctx)
	if err != nil {
		return 0, err
	}
	for _, m := range list.Members {
		if name != "" && m.Name == name {
			return m.ID, nil
		}
	}
	for _, m := range list.Members {
		if peerURL != "" && m.Name == "" && slices.Contains(m.PeerURLs, peerURL) {
			return m.ID, nil
		}
	}
	return 0, fmt.Errorf("member %s (or unstarted at %q): %w", name, peerURL, errNoSuchMember)
}
