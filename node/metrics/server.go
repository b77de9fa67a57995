package metrics

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Config is what the metrics server needs.
type Config struct {
	// CA is the cluster CA: scrapers' certificates must chain to it.
	CA *x509.Certificate
	// Certificate is the node's own, presented to scrapers (read at every handshake).
	Certificate *pki.Renewable
	// Components are served at /metrics/NAME, each from its own gatherer.
	Components map[string]prometheus.Gatherer
	// Members are the cluster's UP nodes as this node last heard, and false before it has
	// heard: the discovery document served at /discovery. Nil: not served.
	Members func() ([]Member, bool)
	// Now is the clock certificates are checked against; nil means time.Now.
	Now func() time.Time
}

// Handler serves the components, each at /metrics/NAME, to metrics credentials only; at
// /metrics/ the list of component names, one per line; and at /discovery the cluster's
// targets for Prometheus' HTTP service discovery.
func (c Config) Handler() http.Handler {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	mux := http.NewServeMux()
	names := make([]string, 0, len(c.Components))
	for name, g := range c.Components {
		names = append(names, name)
		mux.Handle("GET /metrics/"+name, componentHandler(g))
	}
	slices.Sort(names)
	mux.HandleFunc("GET /metrics/{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, strings.Join(names, "\n"))
	})
	if c.Members != nil {
		mux.HandleFunc("GET /discovery", func(w http.ResponseWriter, _ *http.Request) {
			members, ok := c.Members()
			if !ok {
				http.Error(w, errNoMembers.Error(), http.StatusServiceUnavailable)
				return
			}
			data, err := marshalDiscovery(members)
			if err != nil {
				http.Error(w, "render the discovery document: "+err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(data) // a scraper that went away needs no answer
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, refused := authorize(r.TLS, c.CA, now()); refused != nil {
			http.Error(w, refused.message, refused.status)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// componentHandler serves what g gathers. One failing collector (a sysfs file a kernel lacks)
// must not hide the rest, so a partial gather is served; a gather that found nothing and
// failed (a component this node does not run now, a component that does not answer) is a 503
// with the reason, so Prometheus marks the target down instead of scraping an empty page.
func componentHandler(g prometheus.Gatherer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		families, err := g.Gather()
		if len(families) == 0 && err != nil {
			http.Error(w, bound(err.Error()), http.StatusServiceUnavailable)
			return
		}
		gathered := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return families, err })
		promhttp.HandlerFor(gathered, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	})
}

// tlsConfig presents the node's certificate and asks for the scraper's without judging it in
// the handshake: the handler answers a wrong or missing one with a readable refusal.
func (c Config) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.Certificate.Current(), nil
		},
		ClientAuth: tls.RequestClientCert,
	}
}

// Run serves the metrics on ports.Metrics until ctx ends.
func (c Config) Run(ctx context.Context) error {
	lis, err := net.Listen("tcp", fmt.Sprintf(":%d", ports.Metrics))
	if err != nil {
		return fmt.Errorf("listen for metrics: %w", err)
	}
	return c.serve(ctx, lis)
}

func (c Config) serve(ctx context.Context, lis net.Listener) error {
	srv := &http.Server{
		Handler:           c.Handler(),
		TLSConfig:         c.tlsConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		// A scrape of the whole machine takes well under a second; a client that holds a
		// connection longer is not a scraper.
		WriteTimeout: time.Minute,
		IdleTimeout:  2 * time.Minute,
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(lis, "", "") }()
	supervisor.Logger(ctx).Infof("metrics serving on %s", lis.Addr())
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	select {
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			supervisor.Logger(ctx).Warningf("metrics server did not stop cleanly: %v", err)
		}
		return ctx.Err()
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("metrics server stopped: %w", err)
	}
}
