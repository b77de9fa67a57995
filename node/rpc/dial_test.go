package rpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/event/memory"
	"metropolis.dev/metropolis/osbase/eventually"
)

// fakeCurator stands in for a curator in tests of the client side: Discovery names the leader
// from a value the test controls, and Management.GetRegisterTicket answers with the serving
// node's ID if it is the leader, codes.Unavailable otherwise (as a real follower does).
type fakeCurator struct {
	apb.UnimplementedDiscoveryServer
	apb.UnimplementedManagementServer
	nodeID string
	leader *memory.Value[*apb.GetCurrentLeaderResponse]
	stop   func()
	addr   string
}

func (f *fakeCurator) GetCurrentLeader(_ *apb.GetCurrentLeaderRequest, srv apb.Discovery_GetCurrentLeaderServer) error {
	w := f.leader.Watch()
	defer w.Close()
	for {
		l, err := w.Get(srv.Context())
		if err != nil {
			return err
		}
		resp := &apb.GetCurrentLeaderResponse{LeaderNodeId: l.LeaderNodeId, LeaderAddress: l.LeaderAddress, ThisNodeId: f.nodeID}
		if err := srv.Send(resp); err != nil {
			return err
		}
	}
}

func (f *fakeCurator) GetRegisterTicket(context.Context, *apb.GetRegisterTicketRequest) (*apb.GetRegisterTicketResponse, error) {
	w := f.leader.Watch()
	defer w.Close()
	l, err := w.Get(context.Background())
	if err != nil || l.LeaderNodeId != f.nodeID {
		return nil, status.Errorf(codes.Unavailable, "%s is not the leader", f.nodeID)
	}
	return &apb.GetRegisterTicketResponse{Ticket: []byte(f.nodeID)}, nil
}

func startFakeCurator(t *testing.T, ca *pki.CA, leader *memory.Value[*apb.GetCurrentLeaderResponse]) *fakeCurator {
	t.Helper()
	cert, id := nodeCert(t, ca, testValidity)
	f := &fakeCurator{nodeID: id, leader: leader}
	srv := grpc.NewServer(ServerOptions(ca.Certificate(), pki.NewRenewable(*cert), nil)...)
	apb.RegisterDiscoveryServer(srv, f)
	apb.RegisterManagementServer(srv, f)
	f.addr = serveOn(t, srv)
	f.stop = srv.Stop
	t.Cleanup(f.stop)
	return f
}

func (f *fakeCurator) leadership() *apb.GetCurrentLeaderResponse {
	return &apb.GetCurrentLeaderResponse{LeaderNodeId: f.nodeID, LeaderAddress: f.addr}
}

// ticketFrom calls the leader-only method and returns which node answered.
func ticketFrom(ctx context.Context, conn *grpc.ClientConn) (string, error) {
	resp, err := apb.NewManagementClient(conn).GetRegisterTicket(ctx, &apb.GetRegisterTicketRequest{})
	if err != nil {
		return "", err
	}
	return string(resp.Ticket), nil
}

// eventuallyAnsweredBy polls until the leader-only call is answered by want.
func eventuallyAnsweredBy(t *testing.T, conn *grpc.ClientConn, want string) {
	t.Helper()
	eventually.Pass(t, callTimeout, "the leader-only call answered by "+want, func(ctx context.Context) error {
		got, err := ticketFrom(ctx, conn)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("answered by %s", got)
		}
		return nil
	})
}

// TestDialCuratorFollowsTheLeader gives the client one curator's address and moves leadership
// around: calls reach whoever leads, also after the only address it was given is gone.
func TestDialCuratorFollowsTheLeader(t *testing.T) {
	ca := newCA(t)
	leader := &memory.Value[*apb.GetCurrentLeaderResponse]{}
	a := startFakeCurator(t, ca, leader)
	b := startFakeCurator(t, ca, leader)
	leader.Set(b.leadership())

	conn, err := DialCurator([]string{a.addr}, ca.Certificate(), ownerCert(t, ca, testValidity))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	got, err := ticketFrom(callCtx(t), conn)
	if err != nil || got != b.nodeID {
		t.Fatalf("first call answered by %q (%v), want the leader %s named by the follower", got, err, b.nodeID)
	}

	leader.Set(a.leadership())
	eventuallyAnsweredBy(t, conn, a.nodeID)

	// The only given address goes away; the client still knows b from before.
	leader.Set(b.leadership())
	a.stop()
	eventuallyAnsweredBy(t, conn, b.nodeID)
}

// TestDialCuratorLeavesACuratorNamingARefusingLeader: the first curator the client asks keeps
// naming a former leader (as a node whose etcd member was removed does: it no longer learns
// who leads), and that former leader refuses every call. The failing calls make the resolver
// give the stale curator up after its quiet timeout and ask the next, which names the leader.
func TestDialCuratorLeavesACuratorNamingARefusingLeader(t *testing.T) {
	ca := newCA(t)
	stale, current := &memory.Value[*apb.GetCurrentLeaderResponse]{}, &memory.Value[*apb.GetCurrentLeaderResponse]{}
	s := startFakeCurator(t, ca, stale)
	former := startFakeCurator(t, ca, current)
	leader := startFakeCurator(t, ca, current)
	stale.Set(former.leadership())
	current.Set(leader.leadership())

	conn, err := DialCurator([]string{s.addr, leader.addr}, ca.Certificate(), ownerCert(t, ca, testValidity))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), leaderQuietTimeout+callTimeout)
	defer cancel()
	got, err := ticketFrom(ctx, conn)
	if err != nil || got != leader.nodeID {
		t.Fatalf("answered by %q (%v), want the leader %s", got, err, leader.nodeID)
	}
}

// TestDialCuratorWaitsOutAnElection starts with no leader known: a call waits instead of
// failing, and completes once a leader is named.
func TestDialCuratorWaitsOutAnElection(t *testing.T) {
	ca := newCA(t)
	leader := &memory.Value[*apb.GetCurrentLeaderResponse]{}
	a := startFakeCurator(t, ca, leader)
	conn, err := DialCurator([]string{a.addr}, ca.Certificate(), ownerCert(t, ca, testValidity))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	answered := make(chan error, 1)
	go func() {
		got, err := ticketFrom(callCtx(t), conn)
		if err == nil && got != a.nodeID {
			err = errors.New("answered by " + got)
		}
		answered <- err
	}()
	leader.Set(a.leadership())
	if err := <-answered; err != nil {
		t.Fatalf("call made before the election: %v, want it answered by %s", err, a.nodeID)
	}
}

// TestDialNodeInsistsOnTheNamedNode dials a node by address under its own and another node's
// ID: only the first connects.
func TestDialNodeInsistsOnTheNamedNode(t *testing.T) {
	ca := newCA(t)
	serverCert, serverID := nodeCert(t, ca, testValidity)
	_, otherID := nodeCert(t, ca, testValidity)
	srv := &recordingServers{ca: ca.Certificate()}
	addr := serve(t, ca.Certificate(), serverCert, nil, func(s *grpc.Server) { apb.RegisterDiscoveryServer(s, srv) })

	for _, c := range []struct {
		name   string
		nodeID string
		ok     bool
	}{
		{"the server's own ID connects", serverID, true},
		{"no ID connects to any node", "", true},
		{"another node's ID is refused", otherID, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := DialNode(addr, c.nodeID, ca.Certificate(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, err = apb.NewDiscoveryClient(conn).GetCACertificate(callCtx(t), &apb.GetCACertificateRequest{})
			if c.ok && err != nil {
				t.Fatalf("call failed: %v", err)
			}
			if !c.ok && (status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), serverID)) {
				t.Fatalf("call = %v, want Unavailable naming the node that answered (%s)", err, serverID)
			}
		})
	}
}

// TestDialHelpersRejectBadEndpoints checks that address mistakes are reported with the address.
func TestDialHelpersRejectBadEndpoints(t *testing.T) {
	ca := newCA(t)
	for _, ep := range []string{"", "10.0.0.1", "10.0.0.1:http", ":7835", "10.0.0.1:0", "10.0.0.1:70000"} {
		if _, err := DialCurator([]string{ep}, ca.Certificate(), nil); err == nil || !strings.Contains(err.Error(), "endpoint") {
			t.Errorf("DialCurator(%q) = %v, want an error about the endpoint", ep, err)
		}
	}
	if _, err := DialCluster(nil, ca.Certificate(), nil); err == nil {
		t.Error("DialCluster with no endpoints succeeded")
	}
}

// TestDialClusterMovesPastDeadAddresses lists an address nobody serves before a live one.
func TestDialClusterMovesPastDeadAddresses(t *testing.T) {
	ca := newCA(t)
	serverCert, _ := nodeCert(t, ca, testValidity)
	srv := &recordingServers{ca: ca.Certificate()}
	live := serve(t, ca.Certificate(), serverCert, nil, func(s *grpc.Server) { apb.RegisterDiscoveryServer(s, srv) })
	dead := deadAddress(t)
	conn, err := DialCluster([]string{dead, live}, ca.Certificate(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := apb.NewDiscoveryClient(conn).GetCACertificate(callCtx(t), &apb.GetCACertificateRequest{}, grpc.WaitForReady(true))
	if err != nil || string(resp.CaCertificate) != string(ca.Certificate().Raw) {
		t.Fatalf("GetCACertificate = %v, want the CA from the live address", err)
	}
}

// TestFetchCACertificateChecksTheServerAgainstTheAnswer is trust on first use: the CA a node
// returns is accepted only if that node's certificate comes from it.
func TestFetchCACertificateChecksTheServerAgainstTheAnswer(t *testing.T) {
	ca := newCA(t)
	otherCA := newCA(t)
	serverCert, _ := nodeCert(t, ca, testValidity)
	honest := serve(t, ca.Certificate(), serverCert, nil, func(s *grpc.Server) {
		apb.RegisterDiscoveryServer(s, &recordingServers{ca: ca.Certificate()})
	})
	confused := serve(t, ca.Certificate(), serverCert, nil, func(s *grpc.Server) {
		apb.RegisterDiscoveryServer(s, &recordingServers{ca: otherCA.Certificate()})
	})

	got, err := FetchCACertificate(callCtx(t), honest)
	if err != nil {
		t.Fatalf("fetch from an honest node: %v", err)
	}
	if pki.Fingerprint(got) != pki.Fingerprint(ca.Certificate()) {
		t.Errorf("fetched CA fingerprint %s, want %s", pki.Fingerprint(got), pki.Fingerprint(ca.Certificate()))
	}
	if _, err := FetchCACertificate(callCtx(t), confused); err == nil || !strings.Contains(err.Error(), "not a node of the cluster") {
		t.Errorf("fetch from a node returning another CA = %v, want an error saying the server is not of that cluster", err)
	}
}

// TestSelfSignedCertificateIsForTheGivenKey checks the certificate carries the key and that
// it is short-lived.
func TestSelfSignedCertificateIsForTheGivenKey(t *testing.T) {
	pub, priv := newKey(t)
	c, err := SelfSignedCertificate(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(c.Leaf.PublicKey) {
		t.Error("certificate is not for the given key")
	}
	if d := time.Until(c.Leaf.NotAfter); d <= 0 || d > 2*time.Hour {
		t.Errorf("certificate valid for another %v, want a short positive validity", d)
	}
	if _, err := SelfSignedCertificate(priv[:10]); err == nil {
		t.Error("a truncated key was accepted")
	}
}
