package worker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
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
}

// fetchCredentials makes the worker's keys and has the curator certify them. It waits, saying
// why, while the cluster cannot issue them yet (no controller has made the Kubernetes CA).
func fetchCredentials(ctx context.Context, cur cpb.CuratorClient) (*credentials, error) {
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
		if err == nil && len(res.ApiserverEndpoints) > 0 {
			break
		}
		if err == nil {
			err = status.Error(codes.FailedPrecondition, "no Kubernetes controller is up")
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
	}
	if c.kubeletKey, err = kpki.EncodePrivateKeyPEM(kubeletKey); err != nil {
		return nil, err
	}
	if c.proxyKey, err = kpki.EncodePrivateKeyPEM(proxyKey); err != nil {
		return nil, err
	}
	return c, nil
}

// Files of the worker in its state directory's pki folder.
const (
	caFile             = "ca.pem"
	kubeletClientFile  = "kubelet-client.pem"
	kubeletServingFile = "kubelet-serving.pem"
	kubeletKeyFile     = "kubelet-key.pem"
	kubeletKubeconfig  = "kubelet.kubeconfig"
)

// write puts the kubelet's files in dir (mode 0600: they hold its key).
func (c *credentials) write(dir, server string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	files := map[string][]byte{
		caFile:             c.ca,
		kubeletClientFile:  c.kubeletClient,
		kubeletServingFile: c.kubeletServing,
		kubeletKeyFile:     c.kubeletKey,
		kubeletKubeconfig:  kubeconfig(server, filepath.Join(dir, caFile), filepath.Join(dir, kubeletClientFile), filepath.Join(dir, kubeletKeyFile)),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("kubernetes worker: write %s: %w", name, err)
		}
	}
	return nil
}

// kubeconfig is a kubeconfig for server, with the apiserver checked as "kubernetes" (a name
// every controller's serving certificate carries, whichever one the local proxy reaches).
func kubeconfig(server, ca, cert, key string) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: metropolis
  cluster:
    server: %s
    certificate-authority: %s
    tls-server-name: kubernetes
users:
- name: worker
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: metropolis
  context: {cluster: metropolis, user: worker}
current-context: metropolis
`, server, ca, cert, key)
}
