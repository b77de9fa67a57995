package kubernetes

import (
	"fmt"
	"net"
	"net/http"
	"strconv"

	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
	"metropolis.dev/metropolis/node/ports"
)

// MetricsComponents are the control plane's components, by the name the node's metrics port
// serves each under (/metrics/NAME, node/metrics). All three check the reader's certificate
// with the apiserver (kpki.UserMetricsReader may get /metrics and nothing else).
var MetricsComponents = []string{"apiserver", "controller-manager", "scheduler"}

// MetricsSource is where one of MetricsComponents serves its figures on this node (on
// loopback) and the client to read them with (MetricsClient).
func (s *Service) MetricsSource(component string) (string, *http.Client, error) {
	port := map[string]ports.Port{
		"apiserver": ports.KubernetesAPI, "controller-manager": ports.ControllerManager, "scheduler": ports.Scheduler,
	}[component]
	if port == 0 {
		return "", nil, fmt.Errorf("the control plane has no component %.32q", component)
	}
	client, err := s.metricsClient()
	return "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))) + "/metrics", client, err
}

// metricsClient is the client to read MetricsComponents with: the metrics reader's certificate,
// checking the components' serving certificates (each names 127.0.0.1) against the Kubernetes
// CA.
func (s *Service) metricsClient() (*http.Client, error) {
	return kpki.LocalClient(s.path(metricsCertFile), s.path(metricsKeyFile), s.path(caFile), "")
}
