package curator

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
)

// Metrics credentials last DefaultMetricsCredentialValidity unless the caller asks otherwise,
// and never more than MaxMetricsCredentialValidity: nothing revokes them, so a scraper's key
// that leaks reads the cluster's metrics until its certificate expires.
const (
	DefaultMetricsCredentialValidity = 90 * 24 * time.Hour
	MaxMetricsCredentialValidity     = 366 * 24 * time.Hour
)

// metricsCredentialRequest is what IssueMetricsCredential checked in a request.
type metricsCredentialRequest struct {
	name     string
	key      ed25519.PublicKey
	validity time.Duration
}

// checkMetricsCredentialRequest decides whether a request can be served, naming the first
// field that is wrong. The name is checked by the CA when it issues.
func checkMetricsCredentialRequest(req *apb.IssueMetricsCredentialRequest) (metricsCredentialRequest, error) {
	pub, err := x509.ParsePKIXPublicKey(req.GetPublicKey())
	if err != nil {
		return metricsCredentialRequest{}, fmt.Errorf("public_key: not a PKIX DER public key: %w", err)
	}
	key, ok := pub.(ed25519.PublicKey)
	if !ok {
		return metricsCredentialRequest{}, fmt.Errorf("public_key: a %T, want Ed25519", pub)
	}
	validity := DefaultMetricsCredentialValidity
	switch s := req.GetValiditySeconds(); {
	case s < 0 || s > int64(MaxMetricsCredentialValidity/time.Second):
		return metricsCredentialRequest{}, fmt.Errorf("validity_seconds: %d is outside 0 (the default, %v) to %d (a leap year)",
			s, DefaultMetricsCredentialValidity, int64(MaxMetricsCredentialValidity/time.Second))
	case s > 0:
		validity = time.Duration(s) * time.Second
	}
	if req.GetName() == "" {
		return metricsCredentialRequest{}, fmt.Errorf("name: empty; name the scraper, e.g. \"prometheus\"")
	}
	return metricsCredentialRequest{name: req.GetName(), key: key, validity: validity}, nil
}

// IssueMetricsCredential issues a scraper's client certificate from the cluster CA
// (node/metrics accepts nothing else).
func (m *managementServer) IssueMetricsCredential(ctx context.Context, req *apb.IssueMetricsCredentialRequest) (*apb.IssueMetricsCredentialResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	r, err := checkMetricsCredentialRequest(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	cert, err := l.ca.IssueMetricsCertificate(r.name, r.key, r.validity)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &apb.IssueMetricsCredentialResponse{Certificate: cert.Raw, CaCertificate: l.ca.Certificate().Raw}, nil
}
