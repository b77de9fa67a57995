package curator

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/pki"
)

// leader is what a curator has while it leads: the cluster's secrets loaded from etcd, the
// proof of leadership its writes are conditional on, and the leader-only memory (heartbeats).
// Handlers of leader-only methods find it in their context (leaderFromContext).
type leader struct {
	// ctx ends when the leadership does; calls served under this leadership end with it.
	ctx context.Context
	cfg *Config
	// nodeID is this curator's node.
	nodeID string
	// electionKey and electionRev identify this leadership in etcd: the key exists with this
	// creation revision exactly as long as it lasts.
	electionKey string
	electionRev int64
	since       time.Time

	ca      *pki.CA
	cluster *cpb.ClusterRecord
	ticket  []byte

	beats *heartbeats
	// joinNonces are the nonces handed out for nodes' next JoinNode quotes.
	joinNonces *joinNonces
	// kubeAccess is the Kubernetes client rollouts use to cordon and drain nodes.
	kubeAccess kubeAccess
	// end ends this leadership with a cause (handOver); the campaign sets it.
	end context.CancelCauseFunc
	// mu serializes read-modify-write cycles on node records (and the etcd membership changes
	// that go with them), so two concurrent calls cannot both act on the same old record.
	mu sync.Mutex
}

// newLeader loads what the leader needs from etcd.
func newLeader(ctx context.Context, cfg *Config, nodeID, electionKey string, electionRev int64) (*leader, error) {
	cluster, err := getCluster(ctx, cfg.Etcd)
	if err != nil {
		return nil, err
	}
	ca, err := getCA(ctx, cfg.Etcd)
	if err != nil {
		return nil, err
	}
	ticket, err := getRegisterTicket(ctx, cfg.Etcd)
	if err != nil {
		return nil, err
	}
	return &leader{
		ctx: ctx, cfg: cfg, nodeID: nodeID,
		electionKey: electionKey, electionRev: electionRev, since: time.Now(),
		ca: ca, cluster: cluster, ticket: ticket,
		beats: newHeartbeats(), joinNonces: newJoinNonces(),
	}, nil
}

func (l *leader) etcd() *clientv3.Client { return l.cfg.Etcd }

// handOver ends this leadership so that another consensus member's curator takes it, and
// returns the codes.Unavailable a call that needs that gets: the leader cannot remove its own
// node's etcd member, as its etcd client reaches only that member, which stops serving once
// removed (and every call after it would hang). Clients repeat Unavailable calls by
// themselves, and the repeat reaches the new leader, which does the work. step and nodeID
// name the call for the error.
func (l *leader) handOver(step, nodeID string) error {
	if l.end != nil {
		l.end(fmt.Errorf("handed the leadership over: %s node %s removes this node's etcd member", step, nodeID))
	}
	return nodeError(codes.Unavailable, step, nodeID,
		"this node's curator leads and cannot remove its own etcd member; it handed the leadership over, and the call succeeds when repeated on the next leader")
}

// commit applies ops if this curator still leads. Losing the leadership, or etcd failing,
// is codes.Unavailable: the caller retries and reaches the new leader.
func (l *leader) commit(ctx context.Context, ops ...clientv3.Op) error {
	resp, err := l.etcd().Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(l.electionKey), "=", l.electionRev)).
		Then(ops...).
		Commit()
	if err != nil {
		return status.Errorf(codes.Unavailable, "write to etcd: %v", err)
	}
	if !resp.Succeeded {
		return status.Errorf(codes.Unavailable, "curator on %s is no longer the leader", l.nodeID)
	}
	return nil
}

// commitIf applies ops if this curator still leads and every cmp holds. It reports whether
// the comparisons held; losing the leadership is codes.Unavailable, as for commit.
func (l *leader) commitIf(ctx context.Context, cmps []clientv3.Cmp, ops ...clientv3.Op) (bool, error) {
	lead := clientv3.Compare(clientv3.CreateRevision(l.electionKey), "=", l.electionRev)
	resp, err := l.etcd().Txn(ctx).
		If(append([]clientv3.Cmp{lead}, cmps...)...).
		Then(ops...).
		Else(clientv3.OpTxn([]clientv3.Cmp{lead}, nil, nil)).
		Commit()
	if err != nil {
		return false, status.Errorf(codes.Unavailable, "write to etcd: %v", err)
	}
	if resp.Succeeded {
		return true, nil
	}
	if !resp.Responses[0].GetResponseTxn().GetSucceeded() {
		return false, status.Errorf(codes.Unavailable, "curator on %s is no longer the leader", l.nodeID)
	}
	return false, nil
}

// storeNode writes n if this curator still leads.
func (l *leader) storeNode(ctx context.Context, n *cpb.NodeRecord) error {
	op, err := putNodeOp(n)
	if err != nil {
		return status.Errorf(codes.Internal, "store node %s: %v", n.GetId(), err)
	}
	return l.commit(ctx, op)
}

// storeNodeRevokingConsensus writes n, which is no longer a consensus member, and revokes
// every etcd certificate issued to it, in one transaction. The caller holds l.mu.
func (l *leader) storeNodeRevokingConsensus(ctx context.Context, n *cpb.NodeRecord) error {
	ops, err := l.revokeConsensusOps(ctx, n.GetId())
	if err != nil {
		return err
	}
	op, err := putNodeOp(n)
	if err != nil {
		return status.Errorf(codes.Internal, "store node %s: %v", n.GetId(), err)
	}
	return l.commit(ctx, append(ops, op)...)
}

// node reads a node record; a missing one is codes.NotFound for step, and an etcd failure
// codes.Unavailable.
func (l *leader) node(ctx context.Context, step, nodeID string) (*cpb.NodeRecord, error) {
	n, err := getNode(ctx, l.etcd(), nodeID)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%s node %s: %v", step, nodeID, err)
	}
	if n == nil {
		return nil, nodeError(codes.NotFound, step, nodeID, "no such node")
	}
	return n, nil
}

// nodes reads every node record.
func (l *leader) nodes(ctx context.Context) ([]*cpb.NodeRecord, error) {
	nodes, err := listNodes(ctx, l.etcd())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	return nodes, nil
}

// consensusMembers counts the nodes holding the consensus member role.
func consensusMembers(nodes []*cpb.NodeRecord) int {
	count := 0
	for _, n := range nodes {
		if rolesOf(n.GetRoles()).consensus {
			count++
		}
	}
	return count
}
