package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// metricsCredential asks the cluster for a scraper's certificate.
func (c *testCluster) metricsCredential(t *testing.T) *tls.Certificate {
	t.Helper()
	return testenv.MetricsCredential(t, callContext(t), c.mgmt)
}

// scrape fetches a component's metrics from node i presenting cert (nil: none). It answers
// the parsed families when the node served them, or the HTTP status and body when it refused.
func (c *testCluster) scrape(ctx context.Context, i int, component string, cert *tls.Certificate) (map[string]*dto.MetricFamily, int, string, error) {
	s, err := testenv.ScrapeMetrics(ctx, c.ca, cert, c.Addresses[i-1], "/metrics/"+component)
	return s.Families, s.Status, s.Refusal, err
}

// hasSeries reports whether family name has a series whose labels satisfy match.
func hasSeries(families map[string]*dto.MetricFamily, name string, match func(map[string]string) bool) bool {
	for _, m := range families[name].GetMetric() {
		labels := make(map[string]string)
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if match(labels) {
			return true
		}
	}
	return false
}

// testMetrics scrapes every component of every node with a metrics credential, checks that
// the series an operator alerts on are there and move, and that every other certificate is
// refused with a reason. Node skip (deleted) is left out.
func testMetrics(t *testing.T, c *testCluster, skip int) {
	scraper := c.metricsCredential(t)
	member := c.consensusMember(t)

	t.Run("every node serves its components to the metrics credential", func(t *testing.T) {
		for i := 1; i <= c.Nodes(); i++ {
			if i == skip {
				continue
			}
			// A node committed before the curator knew its address renews its certificate to
			// name it (within a minute or two of joining): until then it cannot be verified by
			// the address it is scraped at.
			var node map[string]*dto.MetricFamily
			eventually.Pass(t, 3*time.Minute, fmt.Sprintf("node %d's metrics verified by its address", i), func(ctx context.Context) (err error) {
				node, _, _, err = c.scrape(ctx, i, "node", scraper)
				return err
			})
			for _, check := range []struct {
				name   string
				labels map[string]string
				min    float64
			}{
				{"metropolis_node_certificate_expiry_timestamp_seconds", nil, float64(time.Now().Unix())},
				{"go_goroutines", nil, 1},
			} {
				if v, err := testenv.MetricValue(node, check.name, check.labels); err != nil || v < check.min {
					t.Errorf("node %d: %s%v = %v (%v), want at least %v", i, check.name, check.labels, v, err, check.min)
				}
			}
			if !hasSeries(node, "metropolis_supervisor_runnable_state", func(l map[string]string) bool {
				return strings.HasSuffix(l["dn"], ".metrics") && l["state"] == "healthy"
			}) {
				t.Errorf("node %d: no metropolis_supervisor_runnable_state series says the metrics runnable is healthy", i)
			}
			system, _, _, err := c.scrape(callContext(t), i, "system", scraper)
			if err != nil {
				t.Fatalf("node %d: %v", i, err)
			}
			t.Logf("node %d serves %d families at /metrics/node, %d at /metrics/system", i, len(node), len(system))
			for _, name := range []string{"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_load1", "node_network_receive_bytes_total"} {
				if _, err := testenv.MetricValue(system, name, nil); err != nil {
					t.Errorf("node %d system: %v", i, err)
				}
			}
		}
		etcd, _, _, err := c.scrape(callContext(t), member, "etcd", scraper)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("node %d serves %d families at /metrics/etcd", member, len(etcd))
		if v, err := testenv.MetricValue(etcd, "etcd_server_has_leader", nil); err != nil || v != 1 {
			t.Errorf("consensus member %d: etcd_server_has_leader = %v (%v), want 1", member, v, err)
		}
		// Hosted nodes run no Kubernetes worker: its components answer why, as a down target.
		_, status, reason, err := c.scrape(callContext(t), member, "kubelet", scraper)
		if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(reason, "runs no Kubernetes worker") {
			t.Errorf("/metrics/kubelet on a node without a worker: %d %q (%v), want 503 saying it runs none", status, reason, err)
		}
	})

	t.Run("the discovery document lists every UP node's components, and each answers", func(t *testing.T) {
		testMetricsDiscovery(t, c, scraper, skip)
	})

	t.Run("heartbeats are counted as they go", func(t *testing.T) {
		answered := func(ctx context.Context) (float64, error) {
			node, _, _, err := c.scrape(ctx, member, "node", scraper)
			if err != nil {
				return 0, err
			}
			return testenv.MetricValue(node, "metropolis_heartbeats_total", map[string]string{"result": "answered"})
		}
		first, err := answered(callContext(t))
		if err != nil {
			t.Fatal(err)
		}
		eventually.Pass(t, time.Minute, "the answered heartbeats of node "+strconv.Itoa(member)+" to rise above "+strconv.FormatFloat(first, 'f', 0, 64), func(ctx context.Context) error {
			now, err := answered(ctx)
			if err == nil && now <= first {
				err = fmt.Errorf("still %v", now)
			}
			return err
		})
	})

	t.Run("scraping with anything but a metrics credential is refused", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			cert   *tls.Certificate
			status int
			reason string
		}{
			{"no certificate", nil, http.StatusUnauthorized, "no client certificate: present a metrics credential"},
			{"the owner's certificate", c.owner, http.StatusForbidden, "a user certificate, not a metrics certificate"},
			{"a node's certificate", c.nodeCredentials(t, member), http.StatusForbidden, "a node certificate, not a metrics certificate"},
			{"another cluster's owner certificate", foreignOwnerCredentials(t), http.StatusForbidden, "not signed by cluster CA"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				families, status, reason, err := c.scrape(callContext(t), member, "node", tc.cert)
				if err != nil {
					t.Fatal(err)
				}
				if status != tc.status || !strings.Contains(reason, tc.reason) || families != nil {
					t.Errorf("got %d %q (%d families), want %d containing %q", status, reason, len(families), tc.status, tc.reason)
				}
			})
		}
	})
}

// testMetricsDiscovery does what a Prometheus server with http_sd_configs does: it reads the
// targets from one node and scrapes each at the path its labels name.
func testMetricsDiscovery(t *testing.T, c *testCluster, scraper *tls.Certificate, deleted int) {
	var groups []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.ClientConfig(c.ca, scraper, "")}}
	defer client.CloseIdleConnections()
	url := fmt.Sprintf("https://%s/discovery", net.JoinHostPort(c.Addresses[0], strconv.Itoa(int(ports.Metrics))))
	eventually.Pass(t, time.Minute, "the discovery document from node 1", func(ctx context.Context) error {
		body, err := getOK(ctx, client, url)
		if err != nil {
			return err
		}
		defer body.Close()
		return json.NewDecoder(body).Decode(&groups)
	})
	want := make(map[string]bool) // node ID + " " + component
	for i := 1; i <= c.Nodes(); i++ {
		if i == deleted {
			continue
		}
		n, err := c.node(callContext(t), i)
		if err != nil {
			t.Fatal(err)
		}
		want[n.Id+" node"], want[n.Id+" system"] = true, true
		if n.Roles.GetConsensusMember() {
			want[n.Id+" etcd"] = true
		}
		if n.Roles.GetKubernetesController() {
			want[n.Id+" apiserver"], want[n.Id+" controller-manager"], want[n.Id+" scheduler"] = true, true, true
		}
		if n.Roles.GetKubernetesWorker() {
			want[n.Id+" kubelet"], want[n.Id+" cadvisor"], want[n.Id+" containerd"] = true, true, true
		}
	}
	for _, g := range groups {
		key := g.Labels["node_id"] + " " + g.Labels["component"]
		if !want[key] {
			t.Errorf("unexpected or repeated target group %v", g)
			continue
		}
		delete(want, key)
		if len(g.Targets) != 1 || g.Labels["__scheme__"] != "https" {
			t.Errorf("group %s: targets %v, scheme %q; want one target over https", key, g.Targets, g.Labels["__scheme__"])
			continue
		}
		host, _, _ := net.SplitHostPort(g.Targets[0])
		i := c.indexOfAddress(host)
		if i == 0 {
			t.Errorf("group %s: target %s is no node's address", key, g.Targets[0])
			continue
		}
		families, status, reason, err := c.scrape(callContext(t), i, strings.TrimPrefix(g.Labels["__metrics_path__"], "/metrics/"), scraper)
		if err == nil && status == http.StatusServiceUnavailable && strings.Contains(reason, "runs no Kubernetes") {
			// A hosted node's worker cannot start (cgroup v1), nor a control plane without the
			// kube binary: their targets are listed, and down.
			continue
		}
		if err != nil || len(families) == 0 {
			t.Errorf("group %s: scraping %s%s: %v %d %s", key, g.Targets[0], g.Labels["__metrics_path__"], err, status, reason)
		}
	}
	for key := range want {
		t.Errorf("the document lacks %s", key)
	}
	t.Logf("%d target groups, each scraped", len(groups))
}
