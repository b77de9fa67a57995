package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// prefixed gathers from g only the metric families whose names start with one of prefixes:
// how one component is cut out of a registry that libraries share (etcd registers in
// prometheus.DefaultRegisterer, beside anything else linked into the node program).
type prefixed struct {
	g        prometheus.Gatherer
	prefixes []string
}

// Prefixed returns g cut down to the families whose names start with one of prefixes.
func Prefixed(g prometheus.Gatherer, prefixes ...string) prometheus.Gatherer {
	return prefixed{g: g, prefixes: prefixes}
}

func (p prefixed) Gather() ([]*dto.MetricFamily, error) {
	all, err := p.g.Gather()
	var kept []*dto.MetricFamily
	for _, mf := range all {
		for _, prefix := range p.prefixes {
			if strings.HasPrefix(mf.GetName(), prefix) {
				kept = append(kept, mf)
				break
			}
		}
	}
	return kept, err
}

// NewProgramRegistry returns the registry of the node program's own metrics, with the Go
// runtime's and the process's (go_*, process_*) already in it; the node's parts add theirs.
func NewProgramRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}
