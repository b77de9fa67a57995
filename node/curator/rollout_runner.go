package curator

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/rollout"
	"metropolis.dev/metropolis/osbase/logtree"
)

// tendTimeout bounds one round of tending a rollout: a few etcd reads and writes.
const tendTimeout = 30 * time.Second

// runRollouts carries out the latest rollout for as long as this curator leads: each round
// reads the plan and the cluster, takes one step (node/rollout.Step), stores it with a
// compare-and-set, and gives each node the update target the plan wants for it. Everything
// it acts on is in etcd, so a new leader picks the rollout up where the old one left it.
func (l *leader) runRollouts(logger logtree.LeveledLogger) {
	t := time.NewTicker(l.cfg.RolloutInterval)
	defer t.Stop()
	// settled is the revision of a settled rollout whose targets are all cleared: nothing
	// more to do until another rollout starts.
	var settled int64
	for {
		ctx, cancel := context.WithTimeout(l.ctx, tendTimeout)
		rev, err := l.tendRollout(ctx, logger, settled)
		cancel()
		if err != nil && l.ctx.Err() == nil {
			logger.Warningf("rollout: %v", err)
		} else if err == nil {
			settled = rev
		}
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tendRollout is one round of runRollouts. It returns the plan's revision if the plan is
// settled (rollout.Settled) and every node's target is cleared, else the settled revision it
// was given.
func (l *leader) tendRollout(ctx context.Context, logger logtree.LeveledLogger, settled int64) (int64, error) {
	r, modRev, err := getRollout(ctx, l.etcd())
	if err != nil || r == nil {
		return settled, err
	}
	if rollout.Settled(r) && r.Revision == settled {
		return settled, nil
	}
	v, nodes, err := l.rolloutView(ctx, time.Now())
	if err != nil {
		return settled, err
	}
	kube := l.addKubernetes(ctx, r, &v)
	next, changed := rollout.Step(r, v)
	if changed {
		op, err := putProtoOp(keyRollout, next)
		if err != nil {
			return settled, err
		}
		ok, err := l.commitIf(ctx, []clientv3.Cmp{rolloutUnchanged(modRev)}, op)
		if err != nil || !ok {
			// Changed meanwhile (an operator's command): the next round starts from it.
			return settled, err
		}
		for _, c := range rollout.Changes(r, next) {
			logger.Infof("%s", c)
		}
	}
	if err := l.applyTargets(ctx, next, v, nodes); err != nil {
		return settled, err
	}
	if err := l.applyKubernetes(ctx, kube, next, v, logger); err != nil {
		return settled, err
	}
	if rollout.Settled(next) {
		return next.Revision, nil
	}
	return settled, nil
}

// applyTargets gives every node of the plan the update target the plan wants for it now,
// writing only the node records that differ.
func (l *leader) applyTargets(ctx context.Context, r *apb.Rollout, v rollout.View, nodes []*cpb.NodeRecord) error {
	want := map[string]*cpb.UpdateTarget{}
	for _, rn := range r.Nodes {
		w := rollout.WantFor(r, rn)
		if w.Target == "" {
			continue
		}
		want[rn.NodeId] = &cpb.UpdateTarget{
			Target:       w.Target,
			Release:      r.Release,
			BundleSha256: r.BundleSha256,
			BundleSize:   r.BundleSize,
			Sources:      l.bundleSources(r, rn.NodeId, v, nodes),
		}
	}
	for _, n := range nodes {
		if proto.Equal(n.GetUpdateTarget(), want[n.GetId()]) {
			continue
		}
		if err := l.setUpdateTarget(ctx, n.GetId(), want[n.GetId()]); err != nil {
			return err
		}
	}
	return nil
}

// setUpdateTarget stores a node's update target (nil: none), unless the node is gone.
func (l *leader) setUpdateTarget(ctx context.Context, id string, t *cpb.UpdateTarget) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := getNode(ctx, l.etcd(), id)
	if err != nil || n == nil {
		return err
	}
	n.UpdateTarget = t
	return l.storeNode(ctx, n)
}
