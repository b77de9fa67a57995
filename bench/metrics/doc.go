// Package metrics_bench measures what a scrape of a node's metrics (node/metrics) costs the
// node: CPU time and bytes for each component, gathered and encoded as Prometheus text the way
// the metrics server answers. It holds benchmarks only; run them on a quiet machine with
// `go test -run x -bench . -benchmem ./bench/metrics/` (they read this machine's /proc and /sys).
package metrics_bench
