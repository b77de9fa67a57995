package testenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/ports"
)

// MetricsCredential asks the cluster for a scraper's certificate, as `metroctl metrics
// credential` does.
func MetricsCredential(t testing.TB, ctx context.Context, mgmt apb.ManagementClient) *tls.Certificate {
	t.Helper()
	pub, key, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	res, err := mgmt.IssueMetricsCredential(ctx, &apb.IssueMetricsCredentialRequest{PublicKey: der, Name: "prometheus"})
	if err != nil {
		t.Fatalf("issue a metrics credential: %v", err)
	}
	cert, err := x509.ParseCertificate(res.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	tlsCert, err := pki.TLSCertificate(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tlsCert
}

// Scrape is one scrape of a node's metrics, as a Prometheus server makes it.
type Scrape struct {
	// Families are the parsed metric families when the node served them.
	Families map[string]*dto.MetricFamily
	// Status and Refusal are the HTTP status, and the body when it is not 200.
	Status  int
	Refusal string
	// Took is how long the request took, from sending it to the body's end (a new TLS
	// connection included, as a Prometheus scrape after its first has not); Bytes is the
	// body's size.
	Took  time.Duration
	Bytes int
}

// ScrapeMetrics fetches path (e.g. "/metrics/system") from the node at address, presenting
// cert (nil: none) and verifying the node against ca by that address, as Prometheus does.
// An error means no answer (or one that does not parse); a refusal is a Scrape.
func ScrapeMetrics(ctx context.Context, ca *x509.Certificate, cert *tls.Certificate, address, path string) (Scrape, error) {
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.ClientConfig(ca, cert, "")}}
	defer client.CloseIdleConnections()
	url := fmt.Sprintf("https://%s%s", net.JoinHostPort(address, strconv.Itoa(int(ports.Metrics))), path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Scrape{}, err
	}
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return Scrape{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return Scrape{Status: res.StatusCode, Refusal: strings.TrimSpace(string(body))}, nil
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return Scrape{}, fmt.Errorf("%s: %w", url, err)
	}
	took := time.Since(start)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return Scrape{}, fmt.Errorf("%s does not parse as Prometheus text: %w", url, err)
	}
	return Scrape{Families: families, Status: res.StatusCode, Took: took, Bytes: len(body)}, nil
}

// MetricValue is the value of the first series of family name whose labels include want.
func MetricValue(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, error) {
	mf, ok := families[name]
	if !ok {
		return 0, fmt.Errorf("no %s among %d families", name, len(families))
	}
next:
	for _, m := range mf.Metric {
		labels := make(map[string]string)
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), nil
		case m.Gauge != nil:
			return m.Gauge.GetValue(), nil
		case m.Untyped != nil:
			return m.Untyped.GetValue(), nil
		}
	}
	return 0, fmt.Errorf("no %s series with labels %v", name, want)
}

// MetricSum is the sum of every series of family name (counters and gauges), or an error if
// the family is missing: e.g. bytes received over all of a node's interfaces.
func MetricSum(families map[string]*dto.MetricFamily, name string) (float64, error) {
	mf, ok := families[name]
	if !ok {
		return 0, fmt.Errorf("no %s among %d families", name, len(families))
	}
	var sum float64
	for _, m := range mf.Metric {
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
	}
	return sum, nil
}
