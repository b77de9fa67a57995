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
