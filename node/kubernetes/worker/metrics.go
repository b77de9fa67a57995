package worker

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"

	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
	"metropolis.dev/metropolis/node/ports"
)

// MetricsComponents are the worker's components that serve Prometheus figures, by the name
// the node's metrics port serves each under (/metrics/NAME, node/metrics): the kubelet's own
// figures, cAdvisor's of every container (kept by the kubelet) and containerd's.
var MetricsComponents = []string{"kubelet", "cadvisor", "containerd"}

// MetricsSource is where one of MetricsComponents serves its figures on this node and the
// client to read them with. The kubelet serves on the node's address; it wants a client
// certificate it authorizes for nodes/metrics (the worker's proxy certificate,
// kpki.RoleNodeMetrics), and its serving certificate, issued to the node ID by the Kubernetes
// CA, is checked. Both are read now, so renewed ones are used. containerd serves on loopback
// without authentication.
func (s *Service) MetricsSource(component string) (string, *http.Client, error) {
	kubelet := "https://" + net.JoinHostPort(s.cfg.Address.String(), strconv.Itoa(int(ports.Kubelet)))
	switch component {
	case "kubelet":
		client, err := s.kubeletClient()
		return kubelet + "/metrics", client, err
	case "cadvisor":
		client, err := s.kubeletClient()
		return kubelet + "/metrics/cadvisor", client, err
	case "containerd":
		return "http://" + containerdMetricsAddress() + "/v1/metrics", &http.Client{Transport: &http.Transport{Proxy: nil}}, nil
	}
	return "", nil, fmt.Errorf("the worker has no component %.32q", component)
}

// containerdMetricsAddress is containerd's metrics listener: loopback only, without
// authentication, so only this node program reads it and passes it on to metrics credentials.
func containerdMetricsAddress() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports.ContainerdMetrics)))
}

// kubeletClient presents the worker's proxy certificate and checks the kubelet's, issued to
// the node ID.
func (s *Service) kubeletClient() (*http.Client, error) {
	file := filepath.Join(s.pkiDir(), proxyClientFile)
	return kpki.LocalClient(file, file, filepath.Join(s.pkiDir(), caFile), s.cfg.NodeID)
}
