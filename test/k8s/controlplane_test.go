package k8s

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/eventually"
)

// TestSingleController: one node with the role serves Kubernetes to upstream kubectl through
// metroctl's kubeconfig, as the owner (cluster-admin), and refuses every certificate the
// Kubernetes CA did not issue.
func TestSingleController(t *testing.T) {
	c := launch(t, "k1", 1)
	start := time.Now()
	c.configure("--direct")
	cert, roots := c.credential()
	c.waitReady(1, roots, cert)
	t.Logf("apiserver ready and the kubeconfig written %.1fs after the launch finished", time.Since(start).Seconds())

	if out := c.mustKubectl("get", "--raw", "/readyz"); out != "ok" {
		t.Errorf("kubectl get --raw /readyz = %q, want ok", out)
	}
	if out := c.mustKubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); out != "metropolis:owner" {
		t.Errorf("kubectl auth whoami = %q, want metropolis:owner", out)
	}
	ns := c.mustKubectl("get", "namespaces", "-o", "name")
	for _, want := range []string{"namespace/default", "namespace/kube-system"} {
		if !strings.Contains(ns, want) {
			t.Errorf("kubectl get namespaces = %q, want %s in it", ns, want)
		}
	}
	c.mustKubectl("create", "deployment", "web", "--image=registry.k8s.io/pause:3.10")
	c.mustKubectl("create", "configmap", "settings", "--from-literal=color=blue")
	if got := c.mustKubectl("get", "configmap", "settings", "-o", "jsonpath={.data.color}"); got != "blue" {
		t.Errorf("configmap settings color = %q, want blue", got)
	}
	// The controller-manager turns the deployment into a replica set: proof that it runs and
	// is authorized. Without workers the pod stays Pending.
	eventually.Pass(c.t, time.Minute, "the deployment's replica set", func(context.Context) error {
		out, err := c.kubectl("get", "replicasets", "-l", "app=web", "-o", "name")
		if err == nil && strings.TrimSpace(out) == "" {
			err = errors.New("no replica set yet")
		}
		return err
	})

	t.Run("ClusterNetworkPolicy is served, and its schema refuses a bad policy by field", func(t *testing.T) {
		testClusterNetworkPolicyAPI(t, c)
	})

	t.Run("the control plane's metrics are served on the node's metrics port", func(t *testing.T) {
		testControlPlaneMetrics(t, c)
	})

	t.Run("the resource metrics API is served through the apiserver by the controller's metrics-server", func(t *testing.T) {
		testResourceMetricsAPI(t, c, roots)
	})

	t.Run("the credential plugin reuses its cached certificate", func(t *testing.T) {
		// kubectl ran the plugin above; its certificate is cached, for this user only.
		path := config.NewStore(c.configDir).KubernetesCredentialPath(c.Name)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("no cached credential after kubectl ran: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600 (it holds a private key)", path, fi.Mode().Perm())
		}
		first, _ := c.pluginCertificate(t)
		if again, _ := c.pluginCertificate(t); !again.Equal(first) {
			t.Error("a second run handed out another certificate instead of the cached one")
		}
		refreshed, _ := c.pluginCertificate(t, "--refresh")
		if refreshed.Equal(first) {
			t.Error("--refresh handed out the cached certificate")
		}
		if after, _ := c.pluginCertificate(t); !after.Equal(refreshed) {
			t.Error("the run after --refresh did not reuse the refreshed certificate")
		}
		if err := os.WriteFile(path, []byte("not a credential"), 0o600); err != nil {
			t.Fatal(err)
		}
		replaced, stderr := c.pluginCertificate(t)
		if replaced.Equal(refreshed) || !strings.Contains(stderr, "replacing the cached Kubernetes credential") {
			t.Errorf("with a damaged cache: the same certificate %v, stderr %q; want a new one and a note", replaced.Equal(refreshed), stderr)
		}
	})

	t.Run("refuses foreign certificates", func(t *testing.T) {
		store := config.NewStore(c.configDir)
		mctx, err := store.LoadContext(c.Name)
		if err != nil {
			t.Fatal(err)
		}
		owner, err := mctx.OwnerTLSCertificate()
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			cert *tls.Certificate
		}{
			{"no certificate", nil},
			{"self-signed certificate", selfSigned(t)},
			{"node certificate (cluster CA)", c.nodeCredentials(t, 1)},
			{"owner certificate (cluster CA)", owner},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, body, err := c.get(1, "/api/v1/namespaces", roots, tc.cert)
				if err == nil && status != http.StatusUnauthorized {
					t.Errorf("got %d %s, want 401 or a refused handshake", status, firstLine(body))
				}
			})
		}
		if status, body, err := c.get(1, "/api/v1/namespaces", roots, cert); err != nil || status != http.StatusOK {
			t.Errorf("the owner's Kubernetes credential: %d %s %v, want 200", status, firstLine(body), err)
		}
	})
}

// TestControllersFollowRolesAndFailOver: controllers start and stop with the role, and kubectl
// with the kubeconfig `metroctl k8s configure` writes by default (through the local proxy its
// credential plugin starts) keeps working when the controller it talks to is killed.
func TestControllersFollowRolesAndFailOver(t *testing.T) {
	c := launch(t, "k3", 3)
	c.configure()
	cert, roots := c.credential()
	c.waitReady(1, roots, cert)
	for _, i := range []int{2, 3} {
		c.setController(i, true)
	}
	for _, i := range []int{2, 3} {
		t.Logf("node %d: apiserver ready %.1fs after the role was granted (goal: under 10s)", i, c.waitReady(i, roots, cert).Seconds())
	}

	// Removing the role stops the components; granting it again starts them.
	c.setController(3, false)
	eventually.Pass(c.t, time.Minute, "node 3's apiserver to stop", func(context.Context) error {
		if _, _, err := c.get(3, "/readyz", roots, cert); err == nil {
			return errors.New("still serving")
		}
		return nil
	})
	c.setController(3, true)
	t.Logf("node 3: apiserver ready again %.1fs after the role was granted again", c.waitReady(3, roots, cert).Seconds())

	// The credential plugin must reach a curator once the victim is gone: give metroctl's
	// context every node's curator, not only the first node's that the launcher saved.
	var curators []string
	for i := 1; i <= c.Nodes(); i++ {
		curators = append(curators, net.JoinHostPort(c.Addresses[i-1], strconv.Itoa(int(ports.Curator))))
	}
	if err := config.NewStore(c.configDir).SetEndpoints(c.Name, curators); err != nil {
		t.Fatal(err)
	}

	t.Run("the credential plugin rides out etcd leader changes", func(t *testing.T) {
		c.credentialsAcrossEtcdLeaderChanges(t, 100)
	})

	// The kubeconfig `metroctl k8s configure` writes by default: kubectl's credential plugin
	// starts a local proxy, with no process run by hand.
	c.stopAutoProxyAtEnd(t)
	c.mustKubectl("get", "namespaces")
	target := c.autoProxyTarget(t)
	victim := 0
	for i, a := range c.Addresses {
		if strings.HasPrefix(target, a+":") {
			victim = i + 1
		}
	}
	if victim == 0 {
		t.Fatalf("the proxy forwards to %s, which is no node of the cluster", target)
	}
	t.Logf("killing node %d, which kubectl's connections went to", victim)
	if err := c.KillNode(victim, true); err != nil {
		t.Fatal(err)
	}
	took := eventually.Pass(c.t, 2*time.Minute, "kubectl after the kill", func(context.Context) error {
		_, err := c.kubectl("get", "namespaces")
		return err
	})
	t.Logf("kubectl worked again %.1fs after node %d was killed", took.Seconds(), victim)
	c.mustKubectl("create", "configmap", "after-failover", "--from-literal=ok=yes")
	if got := c.mustKubectl("get", "configmap", "after-failover", "-o", "jsonpath={.data.ok}"); got != "yes" {
		t.Errorf("configmap after-failover = %q, want yes", got)
	}
}

// nodeCredentials reads node i's own key and certificate from its state directory, as someone
// who got hold of its disk would.
func (c *cluster) nodeCredentials(t *testing.T, i int) *tls.Certificate {
	t.Helper()
	dir := filepath.Join(filepath.Dir(c.LogPath(i)), "state")
	keyPEM, err := os.ReadFile(filepath.Join(dir, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := identity.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Cert []byte `json:"node_certificate"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "sealed-record.json")) // the hosted node's record, in plain JSON
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertificateDER(m.Cert)
	if err != nil {
		t.Fatal(err)
	}
	tlsCert, err := pki.TLSCertificate(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tlsCert
}

// selfSigned is a client certificate no cluster issued, named like the owner.
func selfSigned(t *testing.T) *tls.Certificate {
	t.Helper()
	return selfSignedAs(t, "metropolis:owner", "system:masters")
}

// selfSignedAs is a client certificate for user and groups that no CA of the cluster issued.
func selfSignedAs(t *testing.T, user string, groups ...string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: user, Organization: groups},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
