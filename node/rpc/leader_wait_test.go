package rpc

import (
	"strings"
	"testing"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/event/memory"
)

// TestWaitForLeader: a reachable leader is waited for; a cluster whose every address is dead,
// or that another CA signed, fails at once with the reason instead of at the deadline.
func TestWaitForLeader(t *testing.T) {
	ca := newCA(t)
	leader := &memory.Value[*apb.GetCurrentLeaderResponse]{}
	a := startFakeCurator(t, ca, leader)
	leader.Set(a.leadership())

	conn, err := DialCurator([]string{a.addr}, ca.Certificate(), ownerCert(t, ca, testValidity))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := WaitForLeader(callCtx(t), conn); err != nil {
		t.Fatalf("WaitForLeader with a leader: %v", err)
	}

	for _, tc := range []struct {
		name      string
		endpoints []string
		otherCA   bool
		want      string
	}{
		{"every address dead", []string{deadAddress(t), deadAddress(t)}, false, "connection refused"},
		{"another cluster's CA", []string{a.addr}, true, "server is not a node of this cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pinned := ca.Certificate()
			if tc.otherCA {
				pinned = newCA(t).Certificate()
			}
			conn, err := DialCurator(tc.endpoints, pinned, ownerCert(t, ca, testValidity))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx := callCtx(t)
			err = WaitForLeader(ctx, conn)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("WaitForLeader = %v, want an error saying %q", err, tc.want)
			}
			if ctx.Err() != nil {
				t.Fatalf("WaitForLeader gave up only at the deadline: %v", err)
			}
		})
	}
}

// TestLeaderNamingItselfIsDialedWhereReached: a curator that names itself the leader is dialed
// at the address the client reached it by, not the one it reports (which a client behind port
// forwarding or NAT may not reach).
func TestLeaderNamingItselfIsDialedWhereReached(t *testing.T) {
	ca := newCA(t)
	leader := &memory.Value[*apb.GetCurrentLeaderResponse]{}
	a := startFakeCurator(t, ca, leader)
	// The leader reports an address nobody listens on.
	leader.Set(&apb.GetCurrentLeaderResponse{LeaderNodeId: a.nodeID, LeaderAddress: deadAddress(t)})

	conn, err := DialCurator([]string{a.addr}, ca.Certificate(), ownerCert(t, ca, testValidity))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got, err := ticketFrom(callCtx(t), conn)
	if err != nil || got != a.nodeID {
		t.Fatalf("call answered by %q (%v), want %s at the address it was reached by", got, err, a.nodeID)
	}
}
