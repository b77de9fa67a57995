package curator

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
)

// nodeChange is one node record after an etcd event; nil for a deleted key.
type nodeChange struct {
	id  string
	rec *cpb.NodeRecord
}

// watchedSet is the set of nodes a Watch call has told its caller about, so that a node
// leaving the set (deleted, or no longer matching) is announced with a tombstone exactly once.
type watchedSet struct {
	matches func(*cpb.NodeRecord) bool
	members map[string]bool
}

func newWatchedSet(matches func(*cpb.NodeRecord) bool) *watchedSet {
	return &watchedSet{matches: matches, members: make(map[string]bool)}
}

// event turns changes (in etcd order) into the event to send. Several changes of one node are
// collapsed into its last state, so an event never holds both a node and its tombstone.
func (w *watchedSet) event(changes []nodeChange) *cpb.WatchEvent {
	last := make(map[string]*cpb.NodeRecord)
	var order []string
	for _, c := range changes {
		if _, seen := last[c.id]; !seen {
			order = append(order, c.id)
		}
		last[c.id] = c.rec
	}
	ev := &cpb.WatchEvent{}
	for _, id := range order {
		rec := last[id]
		switch {
		case rec != nil && w.matches(rec):
			ev.Nodes = append(ev.Nodes, publicNode(rec))
			w.members[id] = true
		case w.members[id]:
			ev.NodeTombstones = append(ev.NodeTombstones, &cpb.NodeTombstone{NodeId: id})
			delete(w.members, id)
		}
	}
	return ev
}

// watchCaller is the node a watch runs for: the watch ends (with checkCaller's error for
// step) once that node is no longer UP, so that a deleted node keeps no stream open.
type watchCaller struct {
	step, id string
}

// watchNodes sends the nodes under key (a prefix if prefix is set) that match: first all of
// them with PROGRESS_LAST_BACKLOGGED, then changes as etcd reports them, until ctx ends or the
// caller's own record leaves UP. The caller's record must be under key: the event holding the
// change that ends the watch (its own tombstone) is sent, nothing after it.
func watchNodes(ctx context.Context, cl *clientv3.Client, key string, prefix bool, matches func(*cpb.NodeRecord) bool, caller watchCaller, send func(*cpb.WatchEvent) error) error {
	var opts []clientv3.OpOption
	if prefix {
		opts = append(opts, clientv3.WithPrefix())
	}
	resp, err := cl.Get(ctx, key, opts...)
	if err != nil {
		return status.Errorf(codes.Unavailable, "watch: read nodes: %v", err)
	}
	set := newWatchedSet(matches)
	initial := make([]nodeChange, 0, len(resp.Kvs))
	var callerRec *cpb.NodeRecord
	for _, kv := range resp.Kvs {
		rec, err := decodeNode(kv)
		if err != nil {
			return status.Errorf(codes.Internal, "watch: %v", err)
		}
		c := nodeChange{id: nodeIDFromKey(kv.Key), rec: rec}
		if c.id == caller.id {
			callerRec = rec
		}
		initial = append(initial, c)
	}
	if err := checkCaller(caller.step, caller.id, callerRec); err != nil {
		return err
	}
	ev := set.event(initial)
	ev.Progress = cpb.WatchEvent_PROGRESS_LAST_BACKLOGGED
	if err := send(ev); err != nil {
		return err
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range cl.Watch(wctx, key, append(opts, clientv3.WithRev(resp.Header.Revision+1))...) {
		if err := wr.Err(); err != nil {
			return status.Errorf(codes.Unavailable, "watch: etcd watch failed: %v", err)
		}
		changes := make([]nodeChange, 0, len(wr.Events))
		var gone error
		for _, e := range wr.Events {
			c := nodeChange{id: nodeIDFromKey(e.Kv.Key)}
			if e.Type == clientv3.EventTypePut {
				if c.rec, err = decodeNode(e.Kv); err != nil {
					return status.Errorf(codes.Internal, "watch: %v", err)
				}
			}
			changes = append(changes, c)
			if c.id == caller.id {
				if gone = checkCaller(caller.step, caller.id, c.rec); gone != nil {
					break
				}
			}
		}
		if ev := set.event(changes); len(ev.Nodes)+len(ev.NodeTombstones) > 0 {
			if err := send(ev); err != nil {
				return err
			}
		}
		if gone != nil {
			return gone
		}
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unavailable, "watch: etcd watch ended")
}
