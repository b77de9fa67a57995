package curator

import (
	"context"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"

	"metropolis.dev/metropolis/node/consensus"
	"metropolis.dev/metropolis/osbase/logtree"
)

const (
	// promoteInterval is how often the leader looks at etcd's learners. A learner that has
	// just started needs a moment to catch up anyway.
	promoteInterval = 2 * time.Second
	// promoteTimeout bounds one promotion attempt; a learner not caught up by then is tried
	// again at the next round.
	promoteTimeout = 10 * time.Second
)

// promoteLearners tends etcd's learners for as long as this curator leads: it makes started
// learners of nodes holding the consensus member role voting members, and removes learners no
// such node has accounted for during Config.OrphanLearnerGrace (orphan_learners.go). A
// learner is a node granted the role (UpdateNodeRoles adds it); it has a name in etcd's member
// list once its member has started and reached the cluster.
func (l *leader) promoteLearners(logger logtree.LeveledLogger) {
	t := time.NewTicker(promoteInterval)
	defer t.Stop()
	orphans := newOrphanWatch(l.cfg.OrphanLearnerGrace)
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		l.tendLearners(logger, orphans)
	}
}

// tendLearners is one round of promoteLearners.
func (l *leader) tendLearners(logger logtree.LeveledLogger, orphans *orphanWatch) {
	list, err := l.etcd().MemberList(l.ctx)
	if err != nil {
		logger.Warningf("list etcd members to tend learners: %v", err)
		return
	}
	if !slices.ContainsFunc(list.Members, func(m *etcdserverpb.Member) bool { return m.IsLearner }) {
		// The usual case: nothing to tend, and no reason to read every node record (on a
		// large cluster that read costs as much as all heartbeats together).
		orphans.due(list.Members, learnerClaims{}, time.Now())
		return
	}
	nodes, err := l.nodes(l.ctx)
	if err != nil {
		logger.Warningf("read nodes to tend etcd learners: %v", err)
		return
	}
	claims := l.learnerClaims(nodes)
	now := time.Now()
	for _, m := range list.Members {
		if !m.IsLearner || m.Name == "" || !claims.claimed(m) {
			continue
		}
		ctx, cancel := context.WithTimeout(l.ctx, promoteTimeout)
		err := consensus.PromoteLearner(ctx, l.etcd(), m.Name)
		cancel()
		if err != nil {
			logger.Warningf("promote etcd learner %s: %v", m.Name, err)
			continue
		}
		logger.Infof("promoted etcd learner %s to a voting member", m.Name)
	}
	for _, m := range orphans.due(list.Members, claims, now) {
		l.removeOrphanedLearner(logger, m, now.Sub(orphans.since[m.ID]))
	}
}
