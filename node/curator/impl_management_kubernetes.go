package curator

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
	"metropolis.dev/metropolis/node/ports"
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
	ca, err := kpki.LoadCA(ctx, l.cfg.Etcd)
	if errors.Is(err, kpki.ErrNotCreated) {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "kubernetes CA: %v", err)
	}
	cert, err := ca.Issue(kpki.Request{CommonName: kpki.UserOwner, Validity: KubernetesCredentialValidity}, pub)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "public_key: %v", err)
	}
	nodes, err := l.nodes(ctx)
	if err != nil {
		return nil, err
	}
	var endpoints []string
	for _, n := range nodes {
		addr := n.GetStatus().GetExternalAddress()
		if n.GetState() != apb.NodeState_NODE_STATE_UP || !rolesOf(n.GetRoles()).controller || addr == "" {
			continue
		}
		endpoints = append(endpoints, net.JoinHostPort(addr, strconv.Itoa(int(ports.KubernetesAPI))))
	}
	slices.Sort(endpoints)
	return &apb.GetKubernetesCredentialResponse{
		Certificate:   cert.Raw,
		CaCertificate: ca.Certificate.Raw,
		Endpoints:     endpoints,
	}, nil
}
