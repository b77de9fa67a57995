package worker

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"metropolis.dev/metropolis/node/ports"
)

// MetricsEndpoints are the worker's components that serve Prometheus figures, by the name the
// node's metrics port serves each under (/metrics/NAME, node/metrics), and where each serves
// them on this node: the kubelet's own figures, cAdvisor's of every container (kept by the
// kubelet) and containerd's.
func MetricsEndpoints() map[string]string {
	kubelet := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports.Kubelet)))
	return map[string]string{
		"kubelet":    kubelet + "/metrics",
		"cadvisor":   kubelet + "/metrics/cadvisor",
		"containerd": "http://" + containerdMetricsAddress() + "/v1/metrics",
	}
}

// containerdMetricsAddress is containerd's metrics listener: loopback only, without
// authentication, so only this node program reads it and passes it on to metrics credentials.
func containerdMetricsAddress() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports.ContainerdMetrics)))
}

// MetricsClient is the client to read one of MetricsEndpoints with. The kubelet's need a
// client certificate it authorizes for nodes/metrics: the worker's proxy certificate
// (kpki.RoleNodeMetrics), and it checks the kubelet's serving certificate, issued to the node
// ID by the Kubernetes CA. Both are read now, so renewed ones are used.
func (s *Service) MetricsClient() (*http.Client, error) {
	dir := s.pkiDir()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, proxyClientFile), filepath.Join(dir, proxyClientFile))
	if err != nil {
		return nil, fmt.Errorf("the worker's client certificate for its kubelet: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, caFile))
	if err != nil {
		return nil, fmt.Errorf("the Kubernetes CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("the Kubernetes CA in %s holds no certificate", filepath.Join(dir, caFile))
	}
	return &http.Client{Transport: &http.Transport{
		// Loopback only: an environment's proxy settings must not apply.
		Proxy: nil,
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert},
			RootCAs: pool, ServerName: s.cfg.NodeID,
		},
	}}, nil
}
