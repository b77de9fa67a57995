package core

import (
	"bytes"
	"context"
	"slices"
	"time"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// The keep* runnables persist what the node learns while it runs, each by watching the value
// that publishes it (roleserve's roles and curators, the node certificate). Each compares the
// value with what is stored and writes only a difference, so a restarted runnable (after a
// failed write) catches up with the latest value and nothing is written twice.

// keepNodeCertificate keeps every certificate the node presents (renewed while running, or
// handed out at join) in the sealed record, for the next start.
func keepNodeCertificate(store *sealedStore, cert *pki.Renewable) supervisor.Runnable {
	return func(ctx context.Context) error {
		w := cert.Watch()
		defer w.Close()
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		for {
			c, err := w.Get(ctx)
			if err != nil {
				return err
			}
			der := c.Leaf.Raw
			if bytes.Equal(store.get().NodeCertificate, der) {
				continue
			}
			if err := store.update(func(r *sealedRecord) { r.NodeCertificate = der }); err != nil {
				return err
			}
			supervisor.Logger(ctx).Infof("kept the node certificate valid until %s for the next start", c.Leaf.NotAfter.UTC().Format(time.RFC3339))
		}
	}
}

// keepCurators keeps the cluster's curator addresses, as roleserve follows them, in the sealed
// record: where the node looks for its cluster at the next start.
func keepCurators(store *sealedStore, watch func() event.Watcher[[]string]) supervisor.Runnable {
	return func(ctx context.Context) error {
		w := watch()
		defer w.Close()
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		for {
			addrs, err := w.Get(ctx)
			if err != nil {
				return err
			}
			if !slices.Equal(store.get().Curators, addrs) {
				if err := store.update(func(r *sealedRecord) { r.Curators = addrs }); err != nil {
					return err
				}
			}
		}
	}
}

// keepClusterHalfEscrow keeps the storage key's cluster half in the sealed record exactly while
// the node is a consensus member: the cluster it would otherwise ask for that half keeps its
// state on this node's disk.
func keepClusterHalfEscrow(store *sealedStore, watch func() event.Watcher[*cpb.NodeRoles]) supervisor.Runnable {
	return func(ctx context.Context) error {
		w := watch()
		defer w.Close()
		logger := supervisor.Logger(ctx)
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		for {
			roles, err := w.Get(ctx)
			if err != nil {
				return err
			}
			if roles == nil {
				continue // the curator has not said yet
			}
			member := roles.ConsensusMember != nil
			changed, err := store.escrowClusterHalf(member)
			if err != nil {
				return err
			}
			switch {
			case changed && member:
				logger.Infof("consensus member: the storage key's cluster half is now kept in the sealed record (this node's cluster state is on its own disk)")
			case changed:
				logger.Infof("no consensus member: the storage key's cluster half is no longer kept here; it comes from the cluster at every start")
			}
		}
	}
}
