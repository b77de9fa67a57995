package curator

import (
	"context"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/consensus"
	"metropolis.dev/metropolis/osbase/logtree"
)

// An orphaned learner is an etcd learner that no node record accounts for. UpdateNodeRoles
// adds a learner before it stores the role, so a grant whose store failed (or whose caller
// gave up, or whose leader was deposed) leaves one behind; and since etcd allows one learner
// at a time, every later grant of consensus_member would fail until it is gone.

// learnerClaims is which etcd learners the node records account for: a node holding the
// consensus member role claims the member named by its ID and, before that member has started
// (and so has no name yet), the one at its peer URL.
type learnerClaims struct {
	names, peerURLs map[string]bool
}

func (l *leader) learnerClaims(nodes []*cpb.NodeRecord) learnerClaims {
	c := learnerClaims{names: map[string]bool{}, peerURLs: map[string]bool{}}
	for _, n := range nodes {
		if !rolesOf(n.GetRoles()).consensus {
			continue
		}
		c.names[n.GetId()] = true
		if u := l.peerURL(n); u != "" {
			c.peerURLs[u] = true
		}
	}
	return c
}

func (c learnerClaims) claimed(m *etcdserverpb.Member) bool {
	if m.Name != "" {
		return c.names[m.Name]
	}
	for _, u := range m.PeerURLs {
		if c.peerURLs[u] {
			return true
		}
	}
	return false
}

// orphanWatch remembers since when each unclaimed learner has been seen unclaimed, so that
// only one unclaimed for longer than grace, at every look, is removed.
type orphanWatch struct {
	grace time.Duration
	since map[uint64]time.Time
}

func newOrphanWatch(grace time.Duration) *orphanWatch {
	return &orphanWatch{grace: grace, since: map[uint64]time.Time{}}
}

// due takes in the member list seen at now and returns the learners that have been unclaimed
// for at least grace. A learner that is claimed, or gone, is forgotten.
func (w *orphanWatch) due(members []*etcdserverpb.Member, claims learnerClaims, now time.Time) []*etcdserverpb.Member {
	unclaimed := map[uint64]bool{}
	var out []*etcdserverpb.Member
	for _, m := range members {
		if !m.IsLearner || claims.claimed(m) {
			continue
		}
		unclaimed[m.ID] = true
		first, seen := w.since[m.ID]
		switch {
		case !seen:
			w.since[m.ID] = now
		case now.Sub(first) >= w.grace:
			out = append(out, m)
		}
	}
	for id := range w.since {
		if !unclaimed[id] {
			delete(w.since, id)
		}
	}
	return out
}

// removeOrphanedLearner removes learner m if it is still unclaimed. It holds the leader's lock,
// so no role change is half-way while it decides.
func (l *leader) removeOrphanedLearner(logger logtree.LeveledLogger, m *etcdserverpb.Member, unclaimedFor time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ctx, cancel := context.WithTimeout(l.ctx, membershipTimeout)
	defer cancel()
	list, err := l.etcd().MemberList(ctx)
	if err != nil {
		logger.Warningf("list etcd members to remove orphaned learner %x: %v", m.ID, err)
		return
	}
	var current *etcdserverpb.Member
	for _, c := range list.Members {
		if c.ID == m.ID {
			current = c
		}
	}
	if current == nil || !current.IsLearner {
		return
	}
	nodes, err := l.nodes(ctx)
	if err != nil {
		logger.Warningf("read nodes to remove orphaned learner %x: %v", m.ID, err)
		return
	}
	if l.learnerClaims(nodes).claimed(current) {
		return
	}
	if err := consensus.RemoveMemberByID(ctx, l.etcd(), current.ID); err != nil {
		logger.Warningf("remove orphaned etcd learner %x at %v: %v", current.ID, current.PeerURLs, err)
		return
	}
	name := current.Name
	if name == "" {
		name = "not started"
	}
	logger.Warningf("removed etcd learner %x (%s) at %v: no node holding consensus_member accounted for it for %v "+
		"(a consensus_member grant that failed after adding it)", current.ID, name, current.PeerURLs, unclaimedFor.Round(time.Second))
}
