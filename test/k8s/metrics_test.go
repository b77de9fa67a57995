package k8s

import (
	"context"
	"fmt"
	"testing"
	"time"

	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// testControlPlaneMetrics scrapes node 1's control plane through the node's metrics port with
// a metrics credential, as Prometheus would: the apiserver has served the test's requests, the
// controller-manager's replica set queue took the test's deployment, and the scheduler's
// figures are there.
func testControlPlaneMetrics(t *testing.T, c *cluster) {
	mctx, err := config.NewStore(c.configDir).LoadContext(c.Name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	scraper := testenv.MetricsCredential(t, ctx, c.mgmt)
	for _, check := range []struct {
		component, family string
		labels            map[string]string
		positive          bool // the test's own work made it count
	}{
		{"apiserver", "apiserver_request_total", map[string]string{"verb": "GET"}, true},
		{"controller-manager", "workqueue_adds_total", map[string]string{"name": "replicaset"}, true},
		{"scheduler", "scheduler_pending_pods", map[string]string{"queue": "unschedulable"}, false},
	} {
		var got testenv.Scrape
		path := "/metrics/" + check.component
		eventually.Pass(t, 2*time.Minute, "node 1's "+check.component+" metrics with "+check.family, func(ctx context.Context) (err error) {
			got, err = testenv.ScrapeMetrics(ctx, mctx.CA, scraper, c.Addresses[0], path)
			if err == nil && got.Status != 200 {
				return fmt.Errorf("%d %s", got.Status, got.Refusal)
			}
			if err == nil {
				var v float64
				if v, err = testenv.MetricValue(got.Families, check.family, check.labels); err == nil && check.positive && v <= 0 {
					err = fmt.Errorf("%s%v = %v, want more than 0", check.family, check.labels, v)
				}
			}
			return err
		})
		v, _ := testenv.MetricValue(got.Families, check.family, check.labels)
		t.Logf("%s: %d families, %s%v = %v", path, len(got.Families), check.family, check.labels, v)
	}
}
