package rpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/pki"
)

// FetchCACertificate asks the node at endpoint for the cluster CA certificate without being
// able to verify the node first: trust on first use. It checks what can be checked, that the
// answer is a CA certificate and that the node's own certificate is a node certificate issued
// by it (catching a confused server, not an attacker). The caller must show the CA's
// pki.Fingerprint to the operator, who compares it with one obtained out of band before the
// CA is pinned.
func FetchCACertificate(ctx context.Context, endpoint string) (*x509.Certificate, error) {
	if err := checkEndpoint(endpoint); err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		// There is nothing to verify the server against yet; the server certificate is checked
		// against the CA it returns, below.
		InsecureSkipVerify: true,
	}
	conn, err := grpc.NewClient("passthrough:///"+endpoint, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		return nil, fmt.Errorf("fetch CA certificate from %s: %w", endpoint, err)
	}
	defer conn.Close()
	var server peer.Peer
	resp, err := apb.NewDiscoveryClient(conn).GetCACertificate(ctx, &apb.GetCACertificateRequest{}, grpc.Peer(&server))
	if err != nil {
		return nil, fmt.Errorf("fetch CA certificate from %s: %w", endpoint, err)
	}
	ca, err := pki.ParseCertificateDER(resp.GetCaCertificate())
	if err != nil {
		return nil, fmt.Errorf("fetch CA certificate from %s: ca_certificate: %w", endpoint, err)
	}
	if !ca.IsCA {
		return nil, fmt.Errorf("fetch CA certificate from %s: the returned certificate %q is not a CA certificate", endpoint, ca.Subject)
	}
	tlsInfo, ok := server.AuthInfo.(credentials.TLSInfo)
	if !ok || len(tlsInfo.State.PeerCertificates) == 0 {
		return nil, errors.New("fetch CA certificate from " + endpoint + ": server presented no certificate")
	}
	if _, err := pki.VerifyNode(tlsInfo.State.PeerCertificates[0], ca, pki.PurposeServer, time.Now()); err != nil {
		return nil, fmt.Errorf("fetch CA certificate from %s: the server is not a node of the cluster whose CA it returned: %w", endpoint, err)
	}
	return ca, nil
}
