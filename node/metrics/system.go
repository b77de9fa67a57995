package metrics

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/node_exporter/collector"
)

// nodeExporterFlags is how node_exporter's collectors are configured: they read kingpin flags
// that only exist in kingpin's global command line, so the library has to be set up by
// parsing that once per process. Its defaults suit a node (/proc, /sys, /; the default
// collectors); what is named here differs from them. (The image has no udev database: the
// disk collector says so once, at start, and reports disks without udev's properties.)
var nodeExporterFlags = []string{
	// Kubernetes' per-pod mounts would add a filesystem series per volume of every pod, and
	// say nothing the data partition's own series do not.
	"--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/containerd/.+|var/lib/kubelet/pods/.+|ephemeral/containerd/.+)($|/)",
}

var parseNodeExporterFlags = sync.OnceValue(func() error {
	_, err := kingpin.CommandLine.Parse(nodeExporterFlags)
	return err
})

// SystemGatherer returns node_exporter's default collectors as one gatherer: CPU, memory,
// pressure, filesystems, disks, network, and the rest of what node_exporter reports by
// default, with its metric names (node_cpu_seconds_total, ...), so its dashboards work.
// Collectors for hardware a machine lacks report nothing. logger receives their complaints.
func SystemGatherer(logger *slog.Logger) (prometheus.Gatherer, error) {
	if err := parseNodeExporterFlags(); err != nil {
		return nil, fmt.Errorf("configure node_exporter's collectors: %w", err)
	}
	c, err := collector.NewNodeCollector(logger)
	if err != nil {
		return nil, fmt.Errorf("node_exporter's collectors: %w", err)
	}
	r := prometheus.NewRegistry()
	if err := r.Register(c); err != nil {
		return nil, fmt.Errorf("register node_exporter's collectors: %w", err)
	}
	return r, nil
}
