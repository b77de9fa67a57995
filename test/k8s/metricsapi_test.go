package k8s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/eventually"
)

// testResourceMetricsAPI: the controller's metrics-server is registered as the
// metrics.k8s.io API, the apiserver reaches it through aggregation (front proxy certificate,
// the controller's address from the EndpointSlice the controller keeps), and it answers the
// owner through the apiserver. Called directly, it refuses callers without a Kubernetes
// credential, also one naming itself the front proxy and claiming to pass on the owner.
func testResourceMetricsAPI(t *testing.T, c *cluster, roots *x509.CertPool) {
	start := time.Now()
	eventually.Pass(t, 3*time.Minute, "the APIService v1beta1.metrics.k8s.io to be Available", func(context.Context) error {
		out, err := c.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", "-o",
			`jsonpath={.status.conditions[?(@.type=="Available")].status} {.status.conditions[?(@.type=="Available")].message}`)
		if err == nil && !strings.HasPrefix(out, "True") {
			err = fmt.Errorf("Available: %s", out)
		}
		return err
	})
	t.Logf("the resource metrics API was available %.1fs after the subtest started", time.Since(start).Seconds())

	var list struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	out := c.mustKubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes")
	if err := json.Unmarshal([]byte(out), &list); err != nil || list.Kind != "NodeMetricsList" {
		t.Errorf("GET /apis/metrics.k8s.io/v1beta1/nodes = %.200s (%v), want a NodeMetricsList", out, err)
	}
	// A hosted cluster has no workers: no kubelet to read, so no figures, but an answer.
	t.Logf("node metrics through the apiserver: %d items", len(list.Items))

	// The endpoints are the controller's address.
	addrs := c.mustKubectl("get", "endpointslice", "-n", "kube-system", "metrics-server", "-o", "jsonpath={.endpoints[*].addresses[0]}")
	if addrs != c.Addresses[0] {
		t.Errorf("metrics-server endpoints %q, want the controller's address %s", addrs, c.Addresses[0])
	}

	direct := "https://" + net.JoinHostPort(c.Addresses[0], strconv.Itoa(int(ports.MetricsServer))) + "/apis/metrics.k8s.io/v1beta1/nodes"
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
	}{
		{"no certificate", nil},
		{"a self-signed certificate named as the front proxy, passing on the owner", selfSignedAs(t, "metropolis:front-proxy-client")},
	} {
		t.Run("direct call refused: "+tc.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: roots, ServerName: "metrics-server.kube-system.svc"}
			if tc.cert != nil {
				cfg.Certificates = []tls.Certificate{*tc.cert}
			}
			hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
			defer hc.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodGet, direct, nil)
			req.Header.Set("X-Remote-User", "metropolis:owner")
			req.Header.Set("X-Remote-Group", "system:masters")
			res, err := hc.Do(req)
			var tlsErr *tls.CertificateVerificationError
			switch {
			case errors.As(err, &tlsErr):
				t.Fatalf("the metrics-server's certificate does not verify for its Service name: %v", err)
			case err != nil:
				return // the handshake was refused: closed
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized && res.StatusCode != http.StatusForbidden {
				t.Errorf("got %d, want 401 or 403", res.StatusCode)
			}
		})
	}
}
