package curator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
)

// TestGetKubernetesCredential: refused until a controller made the Kubernetes PKI, then a
// short-lived client certificate for metropolis:owner, issued by the Kubernetes CA (not the
// cluster CA) for the key the caller sent.
func TestGetKubernetesCredential(t *testing.T) {
	c := newTestCluster(t, 0)
	m := c.mgmt()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)

	for _, tc := range []struct {
		name     string
		key      []byte
		code     codes.Code
		fragment string
	}{
		{"before the PKI exists", pub, codes.FailedPrecondition, "does not exist yet"},
		{"a malformed key", []byte("nope"), codes.InvalidArgument, "public_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.GetKubernetesCredential(callCtx(t), &apb.GetKubernetesCredentialRequest{PublicKey: tc.key})
			if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.fragment) {
				t.Errorf("got %v, want %v containing %q", err, tc.code, tc.fragment)
			}
		})
	}

	ca, err := kpki.EnsureCA(callCtx(t), c.etcd)
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.GetKubernetesCredential(callCtx(t), &apb.GetKubernetesCredentialRequest{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(res.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
		t.Error("certificate is not for the key sent")
	}
	if cert.Subject.CommonName != kpki.UserOwner || len(cert.Subject.Organization) != 0 {
		t.Errorf("subject %v, want CN %s and no groups", cert.Subject, kpki.UserOwner)
	}
	if life := time.Until(cert.NotAfter); life > KubernetesCredentialValidity || life < KubernetesCredentialValidity-time.Minute {
		t.Errorf("certificate lives %v more, want about %v", life, KubernetesCredentialValidity)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("does not verify against the Kubernetes CA: %v", err)
	}
	clusterRoots := x509.NewCertPool()
	clusterRoots.AddCert(c.ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: clusterRoots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("verifies against the cluster CA")
	}
	if !ca.Certificate.Equal(mustParse(t, res.CaCertificate)) {
		t.Error("ca_certificate is not the Kubernetes CA")
	}
	// The first node is a controller that reported its address.
	if len(res.Endpoints) != 1 || res.Endpoints[0] != c.first.ip+":6443" {
		t.Errorf("endpoints %v, want [%s:6443]", res.Endpoints, c.first.ip)
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestIssueKubernetesWorkerCredentials: only a node with KubernetesWorker gets them, only once
// the Kubernetes CA exists; the kubelet's client certificate names the node for the Node
// authorizer, its serving certificate the node's address, the proxy's is system:kube-proxy.
func TestIssueKubernetesWorkerCredentials(t *testing.T) {
	c := newTestCluster(t, 0)
	m := c.mgmt()
	worker := c.addNode("127.0.0.2")
	curator := cpb.NewCuratorClient(c.dial(worker.cert))
	kubeletKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kubeletPub, _ := x509.MarshalPKIXPublicKey(&kubeletKey.PublicKey)
	proxyKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	proxyPub, _ := x509.MarshalPKIXPublicKey(&proxyKey.PublicKey)
	issue := func(kubelet, proxy []byte) (*cpb.IssueKubernetesWorkerCredentialsResponse, error) {
		return curator.IssueKubernetesWorkerCredentials(callCtx(t), &cpb.IssueKubernetesWorkerCredentialsRequest{
			KubeletPublicKey: kubelet, ProxyPublicKey: proxy})
	}

	_, err = issue(kubeletPub, proxyPub)
	expectCode(t, "without the role", err, codes.PermissionDenied, "kubernetes_worker role")
	yes := true
	if _, err := m.UpdateNodeRoles(callCtx(t), &apb.UpdateNodeRolesRequest{NodeId: worker.id, KubernetesWorker: &yes}); err != nil {
		t.Fatal(err)
	}
	_, err = issue(kubeletPub, proxyPub)
	expectCode(t, "before the PKI exists", err, codes.FailedPrecondition, "does not exist yet")
	ca, err := kpki.EnsureCA(callCtx(t), c.etcd)
	if err != nil {
		t.Fatal(err)
	}
	_, err = issue([]byte("nope"), proxyPub)
	expectCode(t, "a malformed kubelet key", err, codes.InvalidArgument, "kubelet_public_key")
	_, err = issue(kubeletPub, nil)
	expectCode(t, "no proxy key", err, codes.InvalidArgument, "proxy_public_key")

	res, err := issue(kubeletPub, proxyPub)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate)
	for _, tc := range []struct {
		name   string
		der    []byte
		key    *ecdsa.PublicKey
		usage  x509.ExtKeyUsage
		cn     string
		groups []string
	}{
		{"kubelet client", res.KubeletClientCertificate, &kubeletKey.PublicKey, x509.ExtKeyUsageClientAuth, "system:node:" + worker.id, []string{"system:nodes"}},
		{"kubelet serving", res.KubeletServingCertificate, &kubeletKey.PublicKey, x509.ExtKeyUsageServerAuth, "system:node:" + worker.id, nil},
		{"proxy", res.ProxyCertificate, &proxyKey.PublicKey, x509.ExtKeyUsageClientAuth, "system:kube-proxy", nil},
	} {
		cert := mustParse(t, tc.der)
		if !cert.PublicKey.(*ecdsa.PublicKey).Equal(tc.key) {
			t.Errorf("%s: not for the key sent", tc.name)
		}
		if cert.Subject.CommonName != tc.cn || strings.Join(cert.Subject.Organization, ",") != strings.Join(tc.groups, ",") {
			t.Errorf("%s: subject %v, want CN %s groups %v", tc.name, cert.Subject, tc.cn, tc.groups)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{tc.usage}}); err != nil {
			t.Errorf("%s: does not verify against the Kubernetes CA for its use: %v", tc.name, err)
		}
	}
	serving := mustParse(t, res.KubeletServingCertificate)
	if err := serving.VerifyHostname("127.0.0.2"); err != nil {
		t.Errorf("kubelet serving certificate: %v", err)
	}
	if !ca.Certificate.Equal(mustParse(t, res.CaCertificate)) {
		t.Error("ca_certificate is not the Kubernetes CA")
	}
	if len(res.ApiserverEndpoints) != 1 || res.ApiserverEndpoints[0] != c.first.ip+":6443" {
		t.Errorf("apiserver endpoints %v, want [%s:6443]", res.ApiserverEndpoints, c.first.ip)
	}
}
