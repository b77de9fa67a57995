package e2e

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"metropolis.dev/metropolis/launch/hosted"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/node/rpc"
	"metropolis.dev/metropolis/test/testenv"
)

// TestLaunchSurvivesLeaderChange moves the curator leader in the middle of a launch and
// checks that the launch still completes. The launcher holds one connection to the leader
// for the whole launch; it must follow the leader (rpc.DialCurator) rather than keep asking a
// curator that no longer leads. While the launcher makes node 3 a consensus member, node 1
// (the first and so far only leader) is killed and restarted, ending its leadership and every
// connection to it. Whichever curator wins the next election (often node 2's, already
// campaigning; sometimes node 1's again), the launcher must find it.
func TestLaunchSurvivesLeaderChange(t *testing.T) {
	suite.Require(t)
	name := clusterName(t, "lchg")
	store := config.NewStore(t.TempDir())
	dir := filepath.Join(t.TempDir(), "cluster")
	// The second "make a consensus member" step is node 3's: node 2 runs its curator by then.
	trigger := newLineTrigger(testenv.LogWriter(t), "waiting for the curator to make ", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*launchTimeout)
	defer cancel()

	type result struct {
		c   *hosted.Cluster
		err error
	}
	done := make(chan result, 1)
	go func() {
		hc, err := hosted.Launch(ctx, hosted.Options{Name: name, Nodes: 3, NodeBinary: nodeBinary, Dir: dir, Contexts: store, Progress: trigger})
		done <- result{hc, err}
	}()
	t.Cleanup(func() {
		if hc, err := hosted.Load(dir); err == nil {
			(&testCluster{Cluster: hc, t: t}).destroy()
		}
	})

	select {
	case <-trigger.fired:
	case r := <-done:
		t.Fatalf("the launch ended before it made node 3 a consensus member: %v", r.err)
	case <-ctx.Done():
		t.Fatalf("no step making node 3 a consensus member within %v", 2*launchTimeout)
	}
	hc, err := hosted.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	mctx, err := store.LoadContext(name)
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCluster{Cluster: hc, t: t}
	before, err := leaderOf(ctx, tc.curatorEndpoints(), mctx)
	if err != nil {
		t.Fatalf("leader before the restart: %v", err)
	}
	leaderIndex := 0
	for i := 1; i <= hc.Nodes(); i++ {
		if tc.curatorEndpoint(i) == before.Address {
			leaderIndex = i
		}
	}
	if leaderIndex == 0 {
		t.Fatalf("leader %s at %s is none of the nodes", before.NodeID, before.Address)
	}
	t.Logf("restarting node %d (%s), the curator leader, in the middle of the launch", leaderIndex, before.NodeID)
	if err := hc.KillNode(leaderIndex, true); err != nil {
		t.Fatal(err)
	}
	if err := hc.StartNode(leaderIndex); err != nil {
		t.Fatal(err)
	}

	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatalf("the launch did not complete within %v of its start", 2*launchTimeout)
	}
	if r.err != nil {
		t.Fatalf("the launch failed after the leader change: %v", r.err)
	}
	after, err := leaderOf(ctx, tc.curatorEndpoints(), mctx)
	if err != nil {
		t.Fatalf("leader after the launch: %v", err)
	}
	// Node 1's restarted curator may win the next election again: its leadership is still a
	// new one (the process that led was killed, and with it every connection to it), so the
	// launcher had to find the leader again either way.
	t.Logf("launch completed; the leader was %s before the restart and is %s now", before.NodeID, after.NodeID)
}

// leaderOf asks the cluster at endpoints which curator leads, waiting up to a minute for one.
func leaderOf(ctx context.Context, endpoints []string, mctx *config.Context) (rpc.Leader, error) {
	conn, err := rpc.DialCluster(endpoints, mctx.CA, nil)
	if err != nil {
		return rpc.Leader{}, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return rpc.CurrentLeader(ctx, conn)
}

// lineTrigger passes what is written to it on to out, and closes fired once the n-th write
// containing substr has been seen.
type lineTrigger struct {
	out    io.Writer
	substr string
	n      int
	fired  chan struct{}

	mu   sync.Mutex
	seen int
}

func newLineTrigger(out io.Writer, substr string, n int) *lineTrigger {
	return &lineTrigger{out: out, substr: substr, n: n, fired: make(chan struct{})}
}

func (l *lineTrigger) Write(p []byte) (int, error) {
	if strings.Contains(string(p), l.substr) {
		l.mu.Lock()
		l.seen++
		if l.seen == l.n {
			close(l.fired)
		}
		l.mu.Unlock()
	}
	return l.out.Write(p)
}
