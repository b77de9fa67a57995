// Package kubectl runs the upstream kubectl (`kube kubectl`) against a launched cluster as its
// owner, for tests and benchmarks: it fetches an owner credential from the cluster
// (Management.GetKubernetesCredential, an hour long) and writes a kubeconfig with it, so no
// metroctl binary or context directory is needed. Operators use `metroctl k8s configure`.
package kubectl

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	apb "metropolis.dev/metropolis/api/v1"
)

// Kubectl runs `kube kubectl` with a kubeconfig of the owner.
type Kubectl struct {
	kube       string
	kubeconfig string
}

// Owner writes, into dir, a kubeconfig with a fresh owner credential for the first apiserver
// the cluster names, and returns a Kubectl using it and the kube binary.
func Owner(ctx context.Context, mgmt apb.ManagementClient, kube, dir string) (*Kubectl, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey) // an ECDSA P-256 key always marshals
	res, err := mgmt.GetKubernetesCredential(ctx, &apb.GetKubernetesCredentialRequest{PublicKey: pub})
	if err != nil {
		return nil, fmt.Errorf("kubernetes credential: %w", err)
	}
	if len(res.Endpoints) == 0 {
		return nil, errors.New("kubernetes credential: the cluster names no apiserver")
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	files := map[string][]byte{
		"ca.pem":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: res.CaCertificate}),
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: res.Certificate}),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	files["kubeconfig"] = fmt.Appendf(nil, `apiVersion: v1
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
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return &Kubectl{kube: kube, kubeconfig: filepath.Join(dir, "kubeconfig")}, nil
}

// WithKubeconfig returns a Kubectl running the kube binary with an existing kubeconfig, such
// as the one `metroctl k8s configure` writes.
func WithKubeconfig(kube, kubeconfig string) *Kubectl {
	return &Kubectl{kube: kube, kubeconfig: kubeconfig}
}

// Kubeconfig is the path of the kubeconfig k uses.
func (k *Kubectl) Kubeconfig() string { return k.kubeconfig }

// Run runs kubectl with args (and stdin, if not empty) and returns what it printed; an error
// carries kubectl's stderr.
func (k *Kubectl) Run(stdin string, args ...string) (string, error) {
	cmd := exec.Command(k.kube, append([]string{"kubectl", "--kubeconfig", k.kubeconfig, "--request-timeout=30s"}, args...)...)
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
