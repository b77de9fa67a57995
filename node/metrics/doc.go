// Package metrics serves a node's Prometheus metrics over mutual TLS, one path per component
// on one port (ports.Metrics): the node program itself, its etcd member, the machine as
// node_exporter would report it, and the components that serve their own figures (a worker's
// kubelet, cAdvisor, containerd), fetched where they serve on the node at each scrape (Scrape).
// It owns that server, who may scrape it, and the node-level collectors; each component keeps
// registering its own metrics where it lives.
//
// Only a metrics credential may scrape: a client certificate of kind metrics from the
// cluster CA (pki.KindMetrics, issued by Management.IssueMetricsCredential). Owner and node
// certificates are refused, so a node cannot read another node's figures and a leaked
// scraper key reads figures and nothing else. A refused scrape gets an HTTP status with a
// sentence saying what to present, rather than a bare TLS alert, which is why the handshake
// only requests a certificate and the handler decides (as node/rpc does for the API).
//
// See docs/observability.md for the paths, the metric names and a Prometheus configuration.
package metrics
