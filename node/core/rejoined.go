package core

import (
	"context"
	"time"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/consensus"
	"metropolis.dev/metropolis/node/roleserve"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// rejoinedRecheck is how often the node looks again whether it is back in its cluster while
// it is not (an etcd member that is catching up says nothing new by itself).
const rejoinedRecheck = 10 * time.Second

// etcdReadTimeout bounds the read that shows the local etcd member serves.
const etcdReadTimeout = 5 * time.Second

// rejoinFacts is what decides whether the node is back in its cluster.
type rejoinFacts struct {
	heartbeating    bool
	consensusMember bool
	// etcdVoting: the local member votes; etcdServes: it answered a linearizable read.
	etcdVoting, etcdServes bool
}

// decideRejoined says whether a node is back in its cluster, as a trial boot needs before it
// commits: its data is unlocked (the node only gets here then), the curator leader answers
// its heartbeats, and a consensus member's etcd member votes and serves linearizable reads.
func decideRejoined(f rejoinFacts) update.Rejoined {
	switch {
	case !f.heartbeating:
		return update.Rejoined{Reason: "no heartbeat answered by the curator leader yet"}
	case f.consensusMember && !f.etcdVoting:
		return update.Rejoined{Reason: "the local etcd member does not vote yet"}
	case f.consensusMember && !f.etcdServes:
		return update.Rejoined{Reason: "the local etcd member does not serve linearizable reads yet"}
	}
	return update.Rejoined{OK: true}
}

// followRejoined publishes whether the node is back in its cluster (decideRejoined) as it
// changes.
func (n *Node) followRejoined(roles *roleserve.Service) supervisor.Runnable {
	return func(ctx context.Context) error {
		// Each watcher hands its new value to this loop as a function that stores it: the
		// facts are only touched here.
		changes := make(chan func())
		var f rejoinFacts
		var etcd *consensus.Status
		hb := roles.Heartbeating()
		defer hb.Close()
		go follow(ctx, hb, changes, func(v bool) { f.heartbeating = v })
		rw := roles.Roles()
		defer rw.Close()
		go follow(ctx, rw, changes, func(r *cpb.NodeRoles) { f.consensusMember = r.GetConsensusMember() != nil })
		lw := roles.LocalConsensus()
		defer lw.Close()
		go follow(ctx, lw, changes, func(s *consensus.Status) { etcd = s })
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		for {
			f.etcdVoting = etcd != nil
			f.etcdServes = f.etcdVoting && etcdServes(ctx, etcd)
			n.rejoined.Set(decideRejoined(f))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case apply := <-changes:
				apply()
			case <-time.After(rejoinedRecheck):
			}
		}
	}
}

// follow sends each new value of w to changes as a function that stores it with set.
func follow[T any](ctx context.Context, w event.Watcher[T], changes chan<- func(), set func(T)) {
	for {
		v, err := w.Get(ctx)
		if err != nil {
			return
		}
		select {
		case changes <- func() { set(v) }:
		case <-ctx.Done():
			return
		}
	}
}

// etcdServes reads a key linearizably through the local member: it answers only while it is
// part of a quorum with a leader.
func etcdServes(ctx context.Context, s *consensus.Status) bool {
	ctx, cancel := context.WithTimeout(ctx, etcdReadTimeout)
	defer cancel()
	_, err := s.Client.Get(ctx, "/metropolis/rejoin-check")
	return err == nil
}

// Rejoined follows whether the node is back in its cluster (see decideRejoined).
func (n *Node) Rejoined() event.Watcher[update.Rejoined] { return n.rejoined.Watch() }
