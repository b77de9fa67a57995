package curator

import (
	"context"
	"crypto/x509"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
)

// KubernetesCredentialValidity is the lifetime of an owner's Kubernetes client certificate:
// short, since nothing revokes it; metroctl's credential plugin fetches a new one when it
// expires.
const KubernetesCredentialValidity = time.Hour

// GetKubernetesCredential issues the owner's Kubernetes client certificate from the Kubernetes
// CA, which the first controller created in etcd (package node/kubernetes/pki).
func (m *managementServer) GetKubernetesCredential(ctx context.Context, req *apb.GetKubernetesCredentialRequest) (*apb.GetKubernetesCredentialResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(req.GetPublicKey())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "public_key: not a PKIX DER public key: %v", err)
	}
	ca, err := loadKubernetesCA(ctx, l)
	if err != nil {
		return nil, err
	}
	cert, err := ca.Issue(kpki.Request{CommonName: kpki.UserOwner, Validity: KubernetesCredentialValidity}, pub)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "public_key: %v", err)
	}
	endpoints, err := apiserverEndpoints(ctx, l)
	if err != nil {
		return nil, err
	}
	return &apb.GetKubernetesCredentialResponse{
		Certificate:   cert.Raw,
		CaCertificate: ca.Certificate.Raw,
		Endpoints:     endpoints,
	}, nil
}
