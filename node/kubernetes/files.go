package kubernetes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	clientv3 "go.etcd.io/etcd/client/v3"

	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
)

// Files in Config.StateDir. Everything but the socket is rewritten at every start.
const (
	caFile              = "ca.pem"
	servingCertFile     = "apiserver.pem"
	servingKeyFile      = "apiserver-key.pem"
	saKeyFile           = "service-account-key.pem"
	saPubFile           = "service-account.pub"
	kubeletClientCert   = "apiserver-kubelet-client.pem"
	kubeletClientKey    = "apiserver-kubelet-client-key.pem"
	etcdSocketFile      = "etcd.sock"
	controllerMgrConfig = "controller-manager.kubeconfig"
	schedulerConfig     = "scheduler.kubeconfig"
	adminCertFile       = "controller-admin.pem"
	adminKeyFile        = "controller-admin-key.pem"
	metricsCertFile     = "metrics-reader.pem"
	metricsKeyFile      = "metrics-reader-key.pem"
	cmServingCertFile   = "controller-manager-serving.pem"
	cmServingKeyFile    = "controller-manager-serving-key.pem"
	schedServingCert    = "scheduler-serving.pem"
	schedServingKey     = "scheduler-serving-key.pem"
	frontProxyCAFile    = "front-proxy-ca.pem"
	frontProxyCertFile  = "front-proxy-client.pem"
	frontProxyKeyFile   = "front-proxy-client-key.pem"
	metricsServerConfig = "metrics-server.kubeconfig"
	msServingCertFile   = "metrics-server-serving.pem"
	msServingKeyFile    = "metrics-server-serving-key.pem"
)

// writeFiles fetches (or creates) the shared Kubernetes PKI from etcd, issues this controller's
// certificates with fresh keys and writes everything the components read.
func (s *Service) writeFiles(ctx context.Context, kv clientv3.KV) (*kpki.CA, error) {
	dir := s.cfg.StateDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("kubernetes state directory: %w", err)
	}
	ca, err := kpki.EnsureCA(ctx, kv)
	if err != nil {
		return nil, err
	}
	saKey, err := kpki.EnsureServiceAccountKey(ctx, kv)
	if err != nil {
		return nil, err
	}
	saKeyPEM, err := kpki.EncodePrivateKeyPEM(saKey)
	if err != nil {
		return nil, err
	}
	saPubPEM, err := kpki.EncodePublicKeyPEM(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	frontProxyCA, err := kpki.EnsureFrontProxyCA(ctx, kv)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		caFile: ca.CertificatePEM(), saKeyFile: saKeyPEM, saPubFile: saPubPEM,
		frontProxyCAFile: frontProxyCA.CertificatePEM(),
	}
	issue := func(certFile, keyFile string, req kpki.Request) error {
		certPEM, keyPEM, err := ca.IssueWithKey(req)
		if err != nil {
			return err
		}
		files[certFile], files[keyFile] = certPEM, keyPEM
		return nil
	}
	certPEM, keyPEM, err := frontProxyCA.IssueWithKey(kpki.ClientRequest(kpki.UserFrontProxy))
	if err != nil {
		return nil, err
	}
	files[frontProxyCertFile], files[frontProxyKeyFile] = certPEM, keyPEM
	for _, c := range []struct {
		cert, key string
		req       kpki.Request
	}{
		{servingCertFile, servingKeyFile, kpki.ServingRequest(s.cfg.Address)},
		{kubeletClientCert, kubeletClientKey, kpki.ClientRequest(kpki.UserAPIServerKubelet)},
		{adminCertFile, adminKeyFile, kpki.ClientRequest(kpki.UserController, kpki.GroupMasters)},
		{metricsCertFile, metricsKeyFile, kpki.ClientRequest(kpki.UserMetricsReader)},
		{cmServingCertFile, cmServingKeyFile, kpki.LoopbackServingRequest("kube-controller-manager")},
		{schedServingCert, schedServingKey, kpki.LoopbackServingRequest("kube-scheduler")},
		{msServingCertFile, msServingKeyFile, kpki.MetricsServerServingRequest(s.cfg.Address)},
	} {
		if err := issue(c.cert, c.key, c.req); err != nil {
			return nil, err
		}
	}
	for _, k := range []struct {
		file, user string
	}{
		{controllerMgrConfig, kpki.UserControllerManager},
		{schedulerConfig, kpki.UserScheduler},
		{metricsServerConfig, kpki.UserMetricsServer},
	} {
		certPEM, keyPEM, err := ca.IssueWithKey(kpki.ClientRequest(k.user))
		if err != nil {
			return nil, err
		}
		files[k.file] = kubeconfig(s.localServer(), ca.CertificatePEM(), certPEM, keyPEM)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	return ca, nil
}

// kubeconfig is a component's kubeconfig with its credentials inline, so that one file is all
// it needs. PEM is base64 in a kubeconfig's *-data fields, which YAML takes verbatim.
func kubeconfig(server string, caPEM, certPEM, keyPEM []byte) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: component
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: local
  context: {cluster: local, user: component}
current-context: local
`, server, b64(caPEM), b64(certPEM), b64(keyPEM))
}
