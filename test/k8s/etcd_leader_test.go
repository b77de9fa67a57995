package k8s

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/test/testenv"
)

// minLeaderMoves is how many times etcd's leadership must move during the credential calls for
// the check to mean something.
const minLeaderMoves = 3

// leaderMovesPatience bounds the calls made beyond the asked number while waiting for
// minLeaderMoves: a fast machine finishes the calls before the leadership moved often enough.
const leaderMovesPatience = 2 * time.Minute

// credentialsAcrossEtcdLeaderChanges runs `metroctl k8s credential --refresh` at least calls
// times (each asks the curator, which reads the Kubernetes CA from etcd), and on until etcd's
// leadership moved minLeaderMoves times, while it is moved from member to member every second,
// and fails if any call fails: a client call that meets a leader change is retried within its
// deadline, never handed to kubectl.
func (c *cluster) credentialsAcrossEtcdLeaderChanges(t *testing.T, calls int) {
	mctx, err := config.NewStore(c.configDir).LoadContext(c.Name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var moves atomic.Int32
	mover := make(chan struct{})
	go func() {
		defer close(mover)
		for ctx.Err() == nil {
			mctx2, mcancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := c.moveEtcdLeader(mctx2, mctx.CA)
			mcancel()
			if err == nil {
				moves.Add(1)
			} else if ctx.Err() == nil {
				t.Logf("move the etcd leader: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	start := time.Now()
	failed, made := 0, 0
	for ; made < calls || moves.Load() < minLeaderMoves && time.Since(start) < leaderMovesPatience; made++ {
		if _, err := c.metroctl("k8s", "credential", "--refresh"); err != nil {
			failed++
			t.Logf("call %d: %v", made+1, err)
		}
	}
	took := time.Since(start)
	cancel()
	<-mover
	t.Logf("%d credential calls in %v across %d etcd leader changes: %d failed", made, took.Round(time.Second), moves.Load(), failed)
	if moves.Load() < minLeaderMoves {
		t.Errorf("etcd's leadership moved only %d times in %v of calls; the check needs %d", moves.Load(), took.Round(time.Second), minLeaderMoves)
	}
	if failed > 0 {
		t.Errorf("%d of %d credential calls failed across etcd leader changes", failed, made)
	}
}

// moveEtcdLeader moves etcd's leadership from its holder to another voting member and returns
// the new leader's name (a node ID). It asks node 1's member who leads, and the leader itself to
// hand over, as etcd requires.
func (c *cluster) moveEtcdLeader(ctx context.Context, ca *x509.Certificate) (string, error) {
	cl, err := testenv.HostedEtcdClient(ctx, c.Cluster, ca, 1, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	st, err := cl.Status(ctx, cl.Endpoints()[0])
	if err != nil {
		return "", fmt.Errorf("etcd status: %w", err)
	}
	list, err := cl.MemberList(ctx)
	if err != nil {
		return "", fmt.Errorf("etcd members: %w", err)
	}
	var leader, target string
	var targetID uint64
	for _, m := range list.Members {
		switch {
		case m.ID == st.Leader:
			leader = m.Name
		case !m.IsLearner && target == "":
			target, targetID = m.Name, m.ID
		}
	}
	i := slices.Index(c.ids, leader) + 1
	if i == 0 || target == "" {
		return "", errors.New("no etcd leader among the nodes, or no other voter to move it to")
	}
	lcl, err := testenv.HostedEtcdClient(ctx, c.Cluster, ca, i, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer lcl.Close()
	if _, err := lcl.MoveLeader(ctx, targetID); err != nil {
		return "", fmt.Errorf("move the etcd leader from node %d to %s: %w", i, target, err)
	}
	return target, nil
}
