package metrics

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const kubeletPage = `# HELP kubelet_running_pods Number of pods that have a running pod sandbox
# TYPE kubelet_running_pods gauge
kubelet_running_pods 3
# HELP apiserver_audit_event_total Counter of audit events generated and sent to the audit backend.
# TYPE apiserver_audit_event_total counter
apiserver_audit_event_total 0
`

// component serves body with status at /metrics, as a kubelet or containerd would.
func component(t *testing.T, status int, body string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func scrapeOf(srv *httptest.Server) Scrape {
	return Scrape{Source: func() (string, *http.Client, error) { return srv.URL + "/metrics", srv.Client(), nil }}
}

func TestScrapeGathersTheComponentsPage(t *testing.T) {
	families, err := scrapeOf(component(t, http.StatusOK, kubeletPage)).Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range families {
		names = append(names, mf.GetName())
	}
	if got := strings.Join(names, ","); got != "apiserver_audit_event_total,kubelet_running_pods" {
		t.Errorf("families %s, want both, sorted by name", got)
	}
	if v := families[1].GetMetric()[0].GetGauge().GetValue(); v != 3 {
		t.Errorf("kubelet_running_pods = %v, want 3", v)
	}
}

func TestScrapeRefusals(t *testing.T) {
	huge := strings.Repeat("x", 10_000)
	for _, tc := range []struct {
		name  string
		scr   Scrape
		want  string
		limit int // the error's length must stay under it
	}{{
		name: "the component is not run here",
		scr: Scrape{Source: func() (string, *http.Client, error) {
			return "", nil, errors.New("this node runs no Kubernetes worker now")
		}},
		want: "runs no Kubernetes worker",
	}, {
		name: "the component refuses",
		scr:  scrapeOf(component(t, http.StatusForbidden, "Forbidden (user=system:kube-proxy, verb=get, resource=nodes, subresource=metrics)"+huge)),
		want: "403 Forbidden: Forbidden (user=system:kube-proxy", limit: 400,
	}, {
		name: "the component answers something else",
		scr:  scrapeOf(component(t, http.StatusOK, "this is not a metrics page "+huge+"\n")),
		want: "parse the component's figures", limit: 400,
	}, {
		name: "nothing listens",
		scr: Scrape{Source: func() (string, *http.Client, error) {
			return "http://127.0.0.1:1/metrics", http.DefaultClient, nil
		}},
		want: "connection refused",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			families, err := tc.scr.Gather()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Gather() = %d families, %v; want an error with %q", len(families), err, tc.want)
			}
			if tc.limit > 0 && len(err.Error()) > tc.limit {
				t.Errorf("the error echoes %d bytes, more than %d", len(err.Error()), tc.limit)
			}
		})
	}
}

func TestParseTextRefusesAnOversizedPage(t *testing.T) {
	var pages []io.Reader
	for i := range maxScrapeBytes>>20 + 1 {
		pages = append(pages, strings.NewReader(fmt.Sprintf("# HELP metric_%d %s\n", i, strings.Repeat("p", 1<<20))))
	}
	r := io.MultiReader(pages...)
	if _, err := parseText(r); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("parseText(%d MiB) = %v, want refused as too large", maxScrapeBytes>>20, err)
	}
}

// TestComponentHandlerAnswers503WhenNothingWasGathered: a target whose component is down
// must look down to Prometheus, not like an empty page.
func TestComponentHandlerAnswers503WhenNothingWasGathered(t *testing.T) {
	down := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return nil, fmt.Errorf("this node runs no Kubernetes worker now, so no kubelet")
	})
	rec := httptest.NewRecorder()
	componentHandler(down).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/kubelet", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "no kubelet") {
		t.Errorf("answer %d %q, want 503 with the reason", rec.Code, rec.Body.String())
	}

	page, err := parseText(strings.NewReader(kubeletPage))
	if err != nil {
		t.Fatal(err)
	}
	partial := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return page, errors.New("one collector failed")
	})
	rec = httptest.NewRecorder()
	componentHandler(partial).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/system", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "kubelet_running_pods 3") {
		t.Errorf("a partial gather answered %d %q, want 200 with what was gathered", rec.Code, rec.Body.String())
	}
}
