package worker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// credentials are the worker's Kubernetes certificates and keys, as PEM.
type credentials struct {
	ca                 []byte
	kubeletClient      []byte
	kubeletServing     []byte
	kubeletKey         []byte
	proxyCert          []byte
	proxyKey           []byte
	apiserverEndpoints []string
	// validFrom and validUntil bound the certificate that expires first.
	validFrom, validUntil time.Time
}

// fetchCredentials makes the worker's keys and has the curator certify them for the node at
// address. It waits, saying why, while the cluster cannot issue them yet (no controller has
// made the Kubernetes CA), or issues them for another address (the node moved, and its status
// has not reached the curator yet).
func fetchCredentials(ctx context.Context, cur cpb.CuratorClient, address net.IP) (*credentials, error) {
	kubeletKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	proxyKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	kubeletPub, _ := x509.MarshalPKIXPublicKey(&kubeletKey.PublicKey) // an ECDSA P-256 key always marshals
	proxyPub, _ := x509.MarshalPKIXPublicKey(&proxyKey.PublicKey)
	req := &cpb.IssueKubernetesWorkerCredentialsRequest{KubeletPublicKey: kubeletPub, ProxyPublicKey: proxyPub}
	var res *cpb.IssueKubernetesWorkerCredentialsResponse
	for {
		res, err = cur.IssueKubernetesWorkerCredentials(ctx, req)
		if err == nil {
			err = checkIssued(res, address)
		}
		if err == nil {
			break
		}
		if c := status.Code(err); c != codes.FailedPrecondition && c != codes.Unavailable && c != codes.DeadlineExceeded {
			return nil, fmt.Errorf("kubernetes worker credentials: %w", err)
		}
		supervisor.Logger(ctx).Infof("waiting for the cluster to issue this worker's Kubernetes certificates: %v", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
	c := &credentials{apiserverEndpoints: res.ApiserverEndpoints}
	for _, p := range []struct {
		out *[]byte
		der []byte
	}{{&c.ca, res.CaCertificate}, {&c.kubeletClient, res.KubeletClientCertificate}, {&c.kubeletServing, res.KubeletServingCertificate}, {&c.proxyCert, res.ProxyCertificate}} {
		cert, err := x509.ParseCertificate(p.der)
		if err != nil {
			return nil, fmt.Errorf("kubernetes worker credentials: the curator sent an unparseable certificate: %w", err)
		}
		*p.out = kpki.EncodeCertificatePEM(cert)
		if p.out != &c.ca && (c.validUntil.IsZero() || cert.NotAfter.Before(c.validUntil)) {
			c.validFrom, c.validUntil = cert.NotBefore, cert.NotAfter
		}
	}
	if c.kubeletKey, err = kpki.EncodePrivateKeyPEM(kubeletKey); err != nil {
		return nil, err
	}
	if c.proxyKey, err = kpki.EncodePrivateKeyPEM(proxyKey); err != nil {
		return nil, err
	}
	return c, nil
}

// checkIssued says why credentials the curator issued are not yet the ones to use, as an
// error of a code fetchCredentials waits on.
func checkIssued(res *cpb.IssueKubernetesWorkerCredentialsResponse, address net.IP) error {
	if len(res.GetApiserverEndpoints()) == 0 {
		return status.Error(codes.FailedPrecondition, "no Kubernetes controller is up")
	}
	serving, err := x509.ParseCertificate(res.GetKubeletServingCertificate())
	if err != nil {
		return fmt.Errorf("the curator sent an unparseable kubelet serving certificate: %w", err)
	}
	if address == nil {
		return nil
	}
	for _, ip := range serving.IPAddresses {
		if ip.Equal(address) {
			return nil
		}
	}
	return status.Errorf(codes.FailedPrecondition, "the kubelet's certificate is for %v, but the node is at %s: its new address has not reached the curator yet", serving.IPAddresses, address)
}
