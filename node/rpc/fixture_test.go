package rpc

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
)

// testValidity outlives any test.
const testValidity = time.Hour

// callTimeout bounds each call a test makes; generous, as the machine may be busy.
const callTimeout = 20 * time.Second

func newCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA("rpc test CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func tlsCert(t *testing.T, cert *x509.Certificate, priv ed25519.PrivateKey) *tls.Certificate {
	t.Helper()
	c, err := pki.TLSCertificate(cert, priv)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// nodeCert issues a node certificate (valid for 127.0.0.1) and returns it with the node ID.
func nodeCert(t *testing.T, ca *pki.CA, validity time.Duration) (*tls.Certificate, string) {
	t.Helper()
	pub, priv := newKey(t)
	cert, err := ca.IssueNodeCertificate(pub, []net.IP{net.IPv4(127, 0, 0, 1)}, validity)
	if err != nil {
		t.Fatal(err)
	}
	return tlsCert(t, cert, priv), identity.NodeID(pub)
}

func ownerCert(t *testing.T, ca *pki.CA, validity time.Duration) *tls.Certificate {
	t.Helper()
	pub, priv := newKey(t)
	cert, err := ca.IssueUserCertificate("owner", pub, validity)
	if err != nil {
		t.Fatal(err)
	}
	return tlsCert(t, cert, priv)
}

// expiredOwnerCert issues an owner certificate that has expired by the time it is returned.
func expiredOwnerCert(t *testing.T, ca *pki.CA) *tls.Certificate {
	t.Helper()
	c := ownerCert(t, ca, time.Millisecond)
	for !time.Now().After(c.Leaf.NotAfter) {
		time.Sleep(time.Millisecond)
	}
	return c
}

// recordingServers implement one method of each authorization class and remember who called.
// Discovery.GetCACertificate is open, Management.GetRegisterTicket needs an owner,
// Curator.UpdateNodeStatus needs a node.
type recordingServers struct {
	apb.UnimplementedDiscoveryServer
	apb.UnimplementedManagementServer
	cpb.UnimplementedCuratorServer
	ca *x509.Certificate

	mu   sync.Mutex
	last *Peer
}

func (s *recordingServers) record(ctx context.Context) error {
	p, err := PeerFromContext(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = p
	return nil
}

func (s *recordingServers) lastPeer() *Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func (s *recordingServers) GetCACertificate(ctx context.Context, _ *apb.GetCACertificateRequest) (*apb.GetCACertificateResponse, error) {
	return &apb.GetCACertificateResponse{CaCertificate: s.ca.Raw}, s.record(ctx)
}

func (s *recordingServers) GetRegisterTicket(ctx context.Context, _ *apb.GetRegisterTicketRequest) (*apb.GetRegisterTicketResponse, error) {
	return &apb.GetRegisterTicketResponse{Ticket: []byte("ticket")}, s.record(ctx)
}

func (s *recordingServers) UpdateNodeStatus(ctx context.Context, _ *cpb.UpdateNodeStatusRequest) (*cpb.UpdateNodeStatusResponse, error) {
	return &cpb.UpdateNodeStatusResponse{}, s.record(ctx)
}

// serve runs a gRPC server on a loopback port with ServerOptions and returns its address.
func serve(t *testing.T, ca *x509.Certificate, serverCert *tls.Certificate, checker NodeChecker, register func(*grpc.Server)) string {
	t.Helper()
	srv := grpc.NewServer(ServerOptions(ca, pki.NewRenewable(*serverCert), checker)...)
	register(srv)
	t.Cleanup(srv.Stop)
	return serveOn(t, srv)
}

// serveOn serves srv on a new loopback port until the test stops it.
func serveOn(t *testing.T, srv *grpc.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }() // returns when the server is stopped
	return lis.Addr().String()
}

// deadAddress returns a loopback address nothing listens on.
func deadAddress(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// refuseNode is a NodeChecker that knows one deleted node.
func refuseNode(deleted string) NodeChecker {
	return func(_ context.Context, nodeID string) error {
		if nodeID == deleted {
			return status.Errorf(codes.PermissionDenied, "node %s is DECOMMISSIONED", nodeID)
		}
		return nil
	}
}

func dial(t *testing.T, addr string, ca *x509.Certificate, cert *tls.Certificate) *grpc.ClientConn {
	t.Helper()
	conn, err := DialNode(addr, "", ca, cert)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}
