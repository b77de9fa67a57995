package metrics_bench

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"metropolis.dev/metropolis/node/metrics"
)

// scrape serves g as the metrics server does and reads one answer: the CPU time is the
// benchmark's time per op, the bytes are reported per scrape.
func scrape(b *testing.B, g prometheus.Gatherer) {
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/x", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

// BenchmarkScrapeSystem is /metrics/system: node_exporter's default collectors on this
// machine.
func BenchmarkScrapeSystem(b *testing.B) {
	g, err := metrics.SystemGatherer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	scrape(b, g)
}

// BenchmarkScrapeProgram is /metrics/node without the node's own parts: the Go runtime and
// process collectors that dominate it.
func BenchmarkScrapeProgram(b *testing.B) {
	scrape(b, metrics.NewProgramRegistry())
}
