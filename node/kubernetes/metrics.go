package kubernetes

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"

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
// and the Kubernetes CA to check the components' serving certificates (each names 127.0.0.1).
// Both are read now, so the files of the control plane's latest start are used.
func (s *Service) metricsClient() (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(s.path(metricsCertFile), s.path(metricsKeyFile))
	if err != nil {
		return nil, fmt.Errorf("the control plane's metrics reader certificate: %w", err)
	}
	caPEM, err := os.ReadFile(s.path(caFile))
	if err != nil {
		return nil, fmt.Errorf("the Kubernetes CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("the Kubernetes CA in %s holds no certificate", s.path(caFile))
	}
	return &http.Client{Transport: &http.Transport{
		Proxy: nil, // loopback only: an environment's proxy settings must not apply
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, RootCAs: pool,
		},
	}}, nil
}
