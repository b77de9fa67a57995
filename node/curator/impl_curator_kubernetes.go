package curator

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
	"metropolis.dev/metropolis/node/ports"
)

// Kubernetes identities of a worker's components. KubeletUserPrefix+node ID in KubeletGroup is
// what the apiserver's Node authorizer and NodeRestriction admission know a kubelet by;
// ProxyUser is bound to system:node-proxier by Kubernetes' default policy.
const (
	KubeletUserPrefix = "system:node:"
	KubeletGroup      = "system:nodes"
	ProxyUser         = "system:kube-proxy"
)

// IssueKubernetesWorkerCredentials issues a KubernetesWorker's component certificates from the
// Kubernetes CA.
func (c *curatorServer) IssueKubernetesWorkerCredentials(ctx context.Context, req *cpb.IssueKubernetesWorkerCredentialsRequest) (*cpb.IssueKubernetesWorkerCredentialsResponse, error) {
	const step = "issue kubernetes worker credentials for"
	l, n, err := callingNode(ctx, step)
	if err != nil {
		return nil, err
	}
	if !rolesOf(n.GetRoles()).worker {
		return nil, nodeError(codes.PermissionDenied, step, n.GetId(), "the node does not have the kubernetes_worker role")
	}
	ip := net.ParseIP(n.GetStatus().GetExternalAddress())
	if ip == nil {
		return nil, nodeError(codes.FailedPrecondition, step, n.GetId(), "node has not reported its address (UpdateNodeStatus)")
	}
	kubeletKey, err := parsePKIXKey(req.GetKubeletPublicKey())
	if err != nil {
		return nil, nodeError(codes.InvalidArgument, step, n.GetId(), "kubelet_public_key: %v", err)
	}
	proxyKey, err := parsePKIXKey(req.GetProxyPublicKey())
	if err != nil {
		return nil, nodeError(codes.InvalidArgument, step, n.GetId(), "proxy_public_key: %v", err)
	}
	ca, err := loadKubernetesCA(ctx, l)
	if err != nil {
		return nil, err
	}
	user := KubeletUserPrefix + n.GetId()
	issued := make([][]byte, 0, 3)
	for _, r := range []struct {
		req kpki.Request
		pub crypto.PublicKey
	}{
		{kpki.ClientRequest(user, KubeletGroup), kubeletKey},
		{kpki.Request{CommonName: user, DNSNames: []string{n.GetId()}, IPAddresses: []net.IP{ip}, Server: true, Validity: kpki.ComponentValidity}, kubeletKey},
		{kpki.ClientRequest(ProxyUser), proxyKey},
	} {
		cert, err := ca.Issue(r.req, r.pub)
		if err != nil {
			return nil, nodeError(codes.InvalidArgument, step, n.GetId(), "%v", err)
		}
		issued = append(issued, cert.Raw)
	}
	endpoints, err := apiserverEndpoints(ctx, l)
	if err != nil {
		return nil, err
	}
	return &cpb.IssueKubernetesWorkerCredentialsResponse{
		KubeletClientCertificate:  issued[0],
		KubeletServingCertificate: issued[1],
		ProxyCertificate:          issued[2],
		CaCertificate:             ca.Certificate.Raw,
		ApiserverEndpoints:        endpoints,
	}, nil
}

func parsePKIXKey(der []byte) (crypto.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("not a PKIX DER public key: " + err.Error())
	}
	return pub, nil
}

// loadKubernetesCA reads the Kubernetes CA, which the first controller created in etcd.
func loadKubernetesCA(ctx context.Context, l *leader) (*kpki.CA, error) {
	ca, err := kpki.LoadCA(ctx, l.cfg.Etcd)
	if errors.Is(err, kpki.ErrNotCreated) {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "kubernetes CA: %v", err)
	}
	return ca, nil
}

// apiserverEndpoints lists host:port of the apiservers of the UP controllers, sorted.
func apiserverEndpoints(ctx context.Context, l *leader) ([]string, error) {
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
	return endpoints, nil
}
