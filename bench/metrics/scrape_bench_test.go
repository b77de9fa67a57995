package metrics_bench

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
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

// BenchmarkServingFootprint reports what serving the machine's metrics adds to a program's
// resident memory: the RSS after node_exporter's collectors were set up and scraped ten times,
// less the RSS before (both after a GC). One iteration is enough; b.N is ignored.
func BenchmarkServingFootprint(b *testing.B) {
	runtime.GC()
	before := rssBytes(b)
	g, err := metrics.SystemGatherer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	for range 10 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/metrics/system", nil))
	}
	runtime.GC()
	added := rssBytes(b) - before
	for b.Loop() {
	}
	// Reported after the loop: its first call resets the timer, which drops metrics reported
	// before.
	b.ReportMetric(float64(added)/1024, "KiB-added-RSS")
}

// rssBytes reads this process's resident set size from /proc/self/status.
func rssBytes(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb * 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// BenchmarkScrapePassedOn is a component the node reads and passes on (metrics.Scrape): a
// cAdvisor-like page (80 families, 40 containers each: 3,200 series, 360 KB) fetched over
// loopback HTTP on a new connection, parsed and written again per scrape.
func BenchmarkScrapePassedOn(b *testing.B) {
	var page strings.Builder
	for f := range 80 {
		name := "container_figure_" + strconv.Itoa(f) + "_total"
		page.WriteString("# HELP " + name + " A per-container counter.\n# TYPE " + name + " counter\n")
		for c := range 40 {
			page.WriteString(name + `{container="c` + strconv.Itoa(c) + `",namespace="default",pod="pod-` + strconv.Itoa(c) + `",id="/kubepods/burstable/pod` + strconv.Itoa(c) + `"} ` + strconv.Itoa(f*c) + "\n")
		}
	}
	text := page.String()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, text)
	}))
	defer srv.Close()
	scrape(b, metrics.Scrape{Source: func() (string, *http.Client, error) { return srv.URL, srv.Client(), nil }})
}
