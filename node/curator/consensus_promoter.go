package curator

import (
	"context"
	"time"

	"metropolis.dev/metropolis/node/consensus"
	"metropolis.dev/metropolis/osbase/logtree"
)

const (
	// promoteInterval is how often the leader looks for learners to promote. A learner that
	// has just started needs a moment to catch up anyway.
	promoteInterval = 2 * time.Second
	// promoteTimeout bounds one promotion attempt; a learner not caught up by then is tried
	// again at the next round.
	promoteTimeout = 10 * time.Second
)

// promoteLearners makes started etcd learners voting members, for as long as this curator
// leads. A learner is a node granted the consensus member role (UpdateNodeRoles adds it); it
// has a name in etcd's member list once its member has started and reached the cluster.
func (l *leader) promoteLearners(logger logtree.LeveledLogger) {
	t := time.NewTicker(promoteInterval)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		list, err := l.etcd().MemberList(l.ctx)
		if err != nil {
			logger.Warningf("list etcd members to promote learners: %v", err)
			continue
		}
		for _, m := range list.Members {
			if !m.IsLearner || m.Name == "" {
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
	}
}
