package roleserve

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"metropolis.dev/metropolis/node/kubernetes"
	"metropolis.dev/metropolis/node/kubernetes/worker"
	"metropolis.dev/metropolis/node/metrics"
)

// KubernetesMetrics are the Kubernetes components for the node's metrics port (node/metrics):
// the control plane's and the worker's, served by every node. Each is read where it serves on
// this node at every scrape; a node that does not run it now answers why.
func (s *Service) KubernetesMetrics() map[string]prometheus.Gatherer {
	components := make(map[string]prometheus.Gatherer)
	for _, name := range kubernetes.MetricsComponents {
		components[name] = metrics.Scrape{Source: func() (string, *http.Client, error) {
			cp := s.controlPlane.Load()
			if cp == nil {
				return "", nil, fmt.Errorf("this node runs no Kubernetes control plane now (it lacks the KubernetesController role, or its control plane could not start), so no %s", name)
			}
			return cp.MetricsSource(name)
		}}
	}
	for _, name := range worker.MetricsComponents {
		components[name] = metrics.Scrape{Source: func() (string, *http.Client, error) {
			w := s.worker.Load()
			if w == nil {
				return "", nil, fmt.Errorf("this node runs no Kubernetes worker now (it lacks the KubernetesWorker role, or its worker could not start), so no %s", name)
			}
			return w.MetricsSource(name)
		}}
	}
	return components
}
