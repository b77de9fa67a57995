package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// CertificateExpiry reports when the node's certificate expires, as read at each scrape: an
// alert on it catches a node whose renewal keeps failing.
func CertificateExpiry(cert *pki.Renewable) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "metropolis_node_certificate_expiry_timestamp_seconds",
		Help: "When the node's cluster certificate expires (Unix time); it is renewed at two thirds of its lifetime.",
	}, func() float64 {
		c := cert.Current()
		if c == nil || c.Leaf == nil {
			return 0
		}
		return float64(c.Leaf.NotAfter.Unix())
	})
}

// supervisorCollector reports the supervisor tree as it is at each scrape.
type supervisorCollector struct {
	states   func() []supervisor.NodeState
	restarts *prometheus.Desc
	state    *prometheus.Desc
}

// Supervisor reports each runnable of the node program (by its DN): how often it was
// restarted, and its state as a 1 under the state's name. states is the supervisor's States.
func Supervisor(states func() []supervisor.NodeState) prometheus.Collector {
	return &supervisorCollector{
		states: states,
		restarts: prometheus.NewDesc("metropolis_supervisor_restarts_total",
			"How often the runnable was started again after its group failed.", []string{"dn"}, nil),
		state: prometheus.NewDesc("metropolis_supervisor_runnable_state",
			"1 for the runnable's current state (new, healthy, done, canceling, failed, ...).", []string{"dn", "state"}, nil),
	}
}

func (c *supervisorCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.restarts
	ch <- c.state
}

func (c *supervisorCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.states() {
		dn := string(s.DN)
		ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(s.Restarts), dn)
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, 1, dn, s.State.String())
	}
}
