// Package upnodes follows the cluster's UP nodes through the curator's Watch call, for the
// services on a node that act on who is in the cluster: on Kubernetes controllers, deleting the
// Nodes of workers that left; on workers, the list of apiservers to reach.
//
// It owns the stream handling (the initial state arrives in pieces and is only whole at the
// PROGRESS_LAST_BACKLOGGED event; later events carry changes and tombstones) so callers see
// only complete sets. What a caller does with a set is its own.
package upnodes

import (
	"context"
	"fmt"
	"time"

	cpb "metropolis.dev/metropolis/api/curator/v1"
)

// Set is the cluster's UP nodes by ID.
type Set map[string]*cpb.Node

// Follow watches the cluster's UP nodes and calls onChange with the whole set once it is
// complete, after every change, and also every resync (if not zero) when nothing changed.
// It returns when ctx ends, the watch fails, or onChange returns an error. onChange must not
// keep the set: it changes after onChange returns.
func Follow(ctx context.Context, cur cpb.CuratorClient, resync time.Duration, onChange func(Set) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cur.Watch(ctx, &cpb.WatchRequest{Kind: &cpb.WatchRequest_UpNodes{UpNodes: &cpb.WatchRequest_NodesInCluster{}}})
	if err != nil {
		return fmt.Errorf("watch the cluster's nodes: %w", err)
	}
	events := make(chan *cpb.WatchEvent)
	errs := make(chan error, 1)
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				errs <- fmt.Errorf("watch the cluster's nodes: %w", err)
				return
			}
			select {
			case events <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	var tick <-chan time.Time
	if resync > 0 {
		ticker := time.NewTicker(resync)
		defer ticker.Stop()
		tick = ticker.C
	}
	set := Set{}
	complete := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errs:
			return err
		case ev := <-events:
			apply(set, ev)
			if ev.Progress == cpb.WatchEvent_PROGRESS_LAST_BACKLOGGED {
				complete = true
			}
		case <-tick:
		}
		if !complete {
			continue // a partial set would look like nodes had left
		}
		if err := onChange(set); err != nil {
			return err
		}
	}
}

// apply updates set with a watch event's nodes and tombstones.
func apply(set Set, ev *cpb.WatchEvent) {
	for _, n := range ev.Nodes {
		set[n.Id] = n
	}
	for _, t := range ev.NodeTombstones {
		delete(set, t.NodeId)
	}
}
