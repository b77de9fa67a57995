package connect

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
)

func TestReason(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"dial error", status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 1.2.3.4:5: connect: connection refused"`), "dial tcp 1.2.3.4:5: connect: connection refused"},
		{"TLS error", status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: x509: bad"`), "TLS handshake failed: x509: bad"},
		{"deadline", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), "timed out"},
		{"plain error", errors.New("boom"), "boom"},
	} {
		if got := Reason(tc.err); got != tc.want {
			t.Errorf("%s: Reason = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// serveDiscovery serves Discovery offering offered as the CA, with a node certificate from
// signer, and returns the address.
func serveDiscovery(t *testing.T, offered, signer *pki.CA) string {
	t.Helper()
	pub, key, _ := identity.GenerateKey()
	cert, err := signer.IssueNodeCertificate(pub, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tlsCert, _ := pki.TLSCertificate(cert, key)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{tlsCert}, MinVersion: tls.VersionTLS13})))
	apb.RegisterDiscoveryServer(srv, discovery{ca: offered})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

type discovery struct {
	apb.UnimplementedDiscoveryServer
	ca *pki.CA
}

func (d discovery) GetCACertificate(context.Context, *apb.GetCACertificateRequest) (*apb.GetCACertificateResponse, error) {
	return &apb.GetCACertificateResponse{CaCertificate: d.ca.Certificate().Raw}, nil
}

func TestFetchCA(t *testing.T) {
	ca, _ := pki.NewCA("right", 24*time.Hour)
	other, _ := pki.NewCA("other", 24*time.Hour)
	good := serveDiscovery(t, ca, ca)
	confused := serveDiscovery(t, other, ca)
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := lis.Addr().String()
	lis.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	offer, err := FetchCA(ctx, []string{dead, good})
	if err != nil {
		t.Fatalf("FetchCA with one dead and one good endpoint: %v", err)
	}
	if !offer.CA.Equal(ca.Certificate()) || offer.Endpoint != good {
		t.Errorf("got the CA from %s, want the right CA from %s", offer.Endpoint, good)
	}

	_, err = FetchCA(ctx, []string{confused, dead})
	var unreachable *UnreachableError
	if !errors.As(err, &unreachable) {
		t.Fatalf("FetchCA from a confused and a dead endpoint: %v, want UnreachableError", err)
	}
	msg := err.Error()
	for _, want := range []string{"cannot reach the cluster at any of its endpoints", confused + ": fetch CA certificate from " + confused + ": the server is not a node of the cluster whose CA it returned", dead + ": "} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}
