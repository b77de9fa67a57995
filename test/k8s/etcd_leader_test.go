package k8s

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/test/testenv"
)

// credentialsAcrossEtcdLeaderChanges runs `metroctl k8s credential --refresh` calls times (each
// asks the curator, which reads the Kubernetes CA from etcd) while etcd's leadership is moved
// from member to member every second, and fails if any call fails: a client call that meets a
// leader change is retried within its deadline, never handed to kubectl.
func (c *cluster) credentialsAcrossEtcdLeaderChanges(t *testing.T, calls int) {
	mctx, err := config.NewStore(c.configDir).LoadContext(c.Name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	moved := make(chan int, 1)
	go func() {
		n := 0
		defer func() { moved <- n }()
		for ctx.Err() == nil {
			mctx2, mcancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := c.moveEtcdLeader(mctx2, mctx.CA)
			mcancel()
			if err == nil {
				n++
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
	failed := 0
	for i := 0; i < calls; i++ {
		if _, err := c.metroctl("k8s", "credential", "--refresh"); err != nil {
			failed++
			t.Logf("call %d: %v", i+1, err)
		}
	}
	took := time.Since(start)
	cancel()
	moves := <-moved
	t.Logf("%d credential calls in %v across %d etcd leader changes: %d failed", calls, took.Round(time.Second), moves, failed)
	if moves < 3 {
		t.Errorf("etcd's leadership moved only %d times during the calls; the check needs several", moves)
	}
	if failed > 0 {
		t.Errorf("%d of %d credential calls failed across etcd leader changes", failed, calls)
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
