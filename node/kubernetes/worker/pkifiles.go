package worker

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"metropolis.dev/metropolis/osbase/atomicfile"
)

// Files of the worker in its state directory's pki folder. Each certificate shares its file
// with its key, so that replacing the file (a rename) swaps both at once: the kubelet and
// client-go reload certificates from files while they run, and must never read a new
// certificate with an old key.
const (
	caFile             = "ca.pem"
	kubeletClientFile  = "kubelet-client.pem"
	kubeletServingFile = "kubelet-serving.pem"
	proxyClientFile    = "proxy-client.pem"
	kubeletKubeconfig  = "kubelet.kubeconfig"
)

// write puts the worker's files in dir (mode 0600: they hold its keys), each replaced whole.
func (c *credentials) write(dir, server string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	client := filepath.Join(dir, kubeletClientFile)
	files := []struct {
		name string
		data []byte
	}{
		{caFile, c.ca},
		{kubeletClientFile, bytes.Join([][]byte{c.kubeletClient, c.kubeletKey}, nil)},
		{kubeletServingFile, bytes.Join([][]byte{c.kubeletServing, c.kubeletKey}, nil)},
		{proxyClientFile, bytes.Join([][]byte{c.proxyCert, c.proxyKey}, nil)},
		{kubeletKubeconfig, kubeconfig(server, filepath.Join(dir, caFile), client, client)},
	}
	for _, f := range files {
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return fmt.Errorf("kubernetes worker: write %s: %w", f.name, err)
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
