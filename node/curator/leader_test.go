package curator

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
)

// TestLostLeadershipFencesWrites takes the leadership away from a curator the way an expired
// lease does (its election key disappears) and checks that the old leadership can no longer
// write, that the curator notices and leads again, and that clients are served again.
func TestLostLeadershipFencesWrites(t *testing.T) {
	c := newTestCluster(t, 0)
	tc := c.waitForLeader()
	old := tc.svc.leading.Load()

	resp, err := c.etcd.Get(callCtx(t), old.electionKey)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("election key %s: %v, %v", old.electionKey, resp, err)
	}
	if _, err := c.etcd.Revoke(callCtx(t), clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatalf("revoke the leader's lease: %v", err)
	}
	err = old.commit(callCtx(t), clientv3.OpPut(keyPrefix+"fenced", "written by a deposed leader"))
	expectCode(t, "a write under the lost leadership", err, codes.Unavailable, "no longer the leader")
	if got, _ := c.etcd.Get(callCtx(t), keyPrefix+"fenced"); len(got.Kvs) != 0 {
		t.Fatal("the deposed leader's write reached etcd")
	}

	deadline := time.Now().Add(callTimeout)
	for {
		if l := tc.svc.leading.Load(); l != nil && l != old {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the curator did not take up leadership again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if old.ctx.Err() == nil {
		t.Error("the lost leadership's context is still live")
	}
	c.node(c.first.id) // fails the test if clients are not served
}
