package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const (
	// scrapeTimeout bounds one fetch of a component's figures: Prometheus' own default
	// scrape timeout is 10 s, and a component slower than that would fail its scrape anyway.
	scrapeTimeout = 8 * time.Second
	// maxScrapeBytes bounds what a component may answer: cAdvisor on a busy worker serves a
	// few megabytes; anything past this is not a metrics page.
	maxScrapeBytes = 64 << 20
	// maxEchoed bounds how much of a component's refusal an error repeats.
	maxEchoed = 200
)

// Scrape gathers a component that serves its own figures in Prometheus' text format (the
// Kubernetes components, containerd): each Gather fetches them once, so a Prometheus scrape of
// the node reads the component as it is then, through the node's one authenticated port.
type Scrape struct {
	// Source returns the component's metrics endpoint on this node and the client to fetch it
	// with, called at every scrape (so renewed credentials are used), or an error saying why
	// this node cannot serve the component now (it does not run it).
	Source func() (url string, client *http.Client, err error)
}

// Gather fetches and parses the component's figures, sorted by name.
func (s Scrape) Gather() ([]*dto.MetricFamily, error) {
	url, client, err := s.Source()
	if err != nil {
		return nil, err
	}
	// A client per scrape (credentials are read anew): its connection must not outlive it.
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	// The text format: every component speaks it, and the parser below reads only it.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, maxEchoed)) // the status says enough if this fails
		return nil, fmt.Errorf("scrape %s: %s: %s", url, res.Status, strings.TrimSpace(string(body)))
	}
	return parseText(res.Body)
}

// parseText reads Prometheus' text format into families sorted by name; more than
// maxScrapeBytes is refused rather than cut into a page that looks whole.
func parseText(r io.Reader) ([]*dto.MetricFamily, error) {
	limited := &io.LimitedReader{R: r, N: maxScrapeBytes + 1}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	byName, err := parser.TextToMetricFamilies(limited)
	if limited.N == 0 { // the byte past the bound was read
		return nil, fmt.Errorf("the component answered more than %d MiB", maxScrapeBytes>>20)
	}
	if err != nil {
		return nil, fmt.Errorf("parse the component's figures: %s", bound(err.Error()))
	}
	families := make([]*dto.MetricFamily, 0, len(byName))
	for _, mf := range byName {
		families = append(families, mf)
	}
	slices.SortFunc(families, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return families, nil
}

// bound cuts s to maxEchoed bytes: a parse error quotes the offending line, which a broken
// component may make as long as it likes.
func bound(s string) string {
	if len(s) <= maxEchoed {
		return s
	}
	return s[:maxEchoed] + "…"
}
