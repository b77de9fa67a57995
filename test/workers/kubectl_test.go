package workers

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
)

// kubectl runs the upstream kubectl (kube kubectl) as the cluster owner.
type kubectl struct {
	kubeconfig string
}

// newKubectl writes a kubeconfig with an owner credential (an hour long, as metroctl's
// credential plugin would fetch) for the first apiserver the cluster names.
func newKubectl(t *testing.T, ctx context.Context, mgmt apb.ManagementClient) *kubectl {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	res, err := mgmt.GetKubernetesCredential(ctx, &apb.GetKubernetesCredentialRequest{PublicKey: pub})
	if err != nil {
		t.Fatalf("kubernetes credential: %v", err)
	}
	if len(res.Endpoints) == 0 {
		t.Fatal("kubernetes credential: the cluster names no apiserver")
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	files := map[string][]byte{
		"ca.pem":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: res.CaCertificate}),
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: res.Certificate}),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kc := filepath.Join(dir, "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://%s", certificate-authority: %s, tls-server-name: kubernetes}
users:
- name: owner
  user: {client-certificate: %s, client-key: %s}
contexts:
- name: c
  context: {cluster: c, user: owner}
current-context: c
`, res.Endpoints[0], filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &kubectl{kubeconfig: kc}
}

// run runs kubectl with args (and stdin, if not empty) and returns its output.
func (k *kubectl) run(stdin string, args ...string) (string, error) {
	cmd := exec.Command(kube, append([]string{"kubectl", "--kubeconfig", k.kubeconfig, "--request-timeout=30s"}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// must runs kubectl and fails the test on error.
func (k *kubectl) must(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := k.run(stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor calls check every two seconds until it succeeds or timeout passes, and returns how
// long that took.
func waitFor(t *testing.T, timeout time.Duration, what string, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < timeout {
		if err = check(); err == nil {
			t.Logf("%s after %.1fs", what, time.Since(start).Seconds())
			return time.Since(start)
		}
		time.Sleep(2 * time.Second)
	}
	t.Fatalf("%s: not within %v: %v", what, timeout, err)
	return 0
}
