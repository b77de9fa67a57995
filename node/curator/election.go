package curator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/protobuf/proto"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// campaign takes part in the leader election, and while this curator leads, publishes the
// leadership to the handlers and runs the leader's background work. It returns when ctx ends
// or the leadership is lost (its lease expired), so the supervisor restarts the campaign.
func (s *Service) campaign(ctx context.Context) error {
	logger := supervisor.Logger(ctx)
	ttl := int((s.cfg.LeaseTTL + time.Second - 1) / time.Second)
	session, err := concurrency.NewSession(s.cfg.Etcd, concurrency.WithTTL(ttl))
	if err != nil {
		return fmt.Errorf("start election session: %w", err)
	}
	// Closing revokes the lease, deleting this candidate's election key: a stopping leader
	// hands over at once instead of after the lease runs out.
	defer session.Close()
	value, err := proto.Marshal(&cpb.LeaderRecord{NodeId: s.nodeID, Address: s.cfg.AdvertiseAddress})
	if err != nil {
		return fmt.Errorf("encode leader record: %w", err)
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)

	election := concurrency.NewElection(session, keyElection)
	if err := election.Campaign(ctx, string(value)); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("campaign for leadership: %w", err)
	}

	lctx, lcancel := context.WithCancelCause(ctx)
	defer lcancel(nil)
	stop := context.AfterFunc(session.Ctx(), func() { lcancel(errLeaseExpired) })
	defer stop()
	l, err := newLeader(lctx, &s.cfg, s.nodeID, election.Key(), election.Rev())
	if err != nil {
		return fmt.Errorf("take up leadership: %w", err)
	}
	l.end = lcancel
	s.leading.Store(l)
	defer s.leading.CompareAndSwap(l, nil)
	logger.Infof("leading the cluster as of etcd revision %d", election.Rev())

	var background sync.WaitGroup
	background.Add(2)
	go func() {
		defer background.Done()
		l.promoteLearners(logger)
	}()
	go func() {
		defer background.Done()
		l.runRollouts(logger)
	}()
	defer background.Wait()
	defer lcancel(nil)

	// The leadership ends with ctx, with the lease (errLeaseExpired), or when a handler hands
	// it over (leader.handOver); closing the session then deletes this candidate's key.
	<-lctx.Done()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return context.Cause(lctx)
}

var errLeaseExpired = errors.New("lost leadership: the election lease expired")

// observeLeader follows the election in etcd and publishes who leads, for Discovery and for
// the answers of a curator that does not lead. The leader is the candidate whose key was
// created first (etcd's election recipe); any change under the election prefix may change
// it, so every change triggers a fresh read.
func (s *Service) observeLeader(ctx context.Context) error {
	defer s.setCurrentLeader(nil)
	prefix := keyElection + "/"
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	for {
		resp, err := s.cfg.Etcd.Get(ctx, prefix, clientv3.WithFirstCreate()...)
		if err != nil {
			return fmt.Errorf("read the election: %w", err)
		}
		var cur *cpb.LeaderRecord
		if len(resp.Kvs) > 0 {
			cur = &cpb.LeaderRecord{}
			if err := proto.Unmarshal(resp.Kvs[0].Value, cur); err != nil {
				return fmt.Errorf("decode leader record %s: %w", resp.Kvs[0].Key, err)
			}
		}
		s.setCurrentLeader(cur)

		wctx, cancel := context.WithCancel(ctx)
		wr, ok := <-s.cfg.Etcd.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
		cancel()
		if !ok {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return errors.New("watch on the election ended")
		}
		if err := wr.Err(); err != nil {
			return fmt.Errorf("watch the election: %w", err)
		}
	}
}

func (s *Service) setCurrentLeader(cur *cpb.LeaderRecord) {
	if proto.Equal(s.currentLeader.Load(), cur) {
		return
	}
	s.currentLeader.Store(cur)
	s.leaderView.Set(cur)
}
