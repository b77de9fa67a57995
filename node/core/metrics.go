package core

import (
	"context"
	"crypto/x509"
	"log/slog"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"metropolis.dev/metropolis/node/metrics"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// programMetrics is the node program's own metrics registry and the gRPC server metrics its
// API servers (node management, the curator) record into it.
type programMetrics struct {
	registry *prometheus.Registry
	rpc      *grpcprom.ServerMetrics
}

func newProgramMetrics(n *Node, cert *pki.Renewable) *programMetrics {
	m := &programMetrics{
		registry: metrics.NewProgramRegistry(),
		rpc:      grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram()),
	}
	m.registry.MustRegister(m.rpc, metrics.CertificateExpiry(cert), metrics.Supervisor(n.States))
	return m
}

// serverOptions record every call of a gRPC server into the registry.
func (m *programMetrics) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(m.rpc.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(m.rpc.StreamServerInterceptor()),
	}
}

// serveMetrics serves the node's metrics (node/metrics): the node program's, its etcd
// member's (etcd registers in the default registry; a node without a member reports its
// metrics unset) and the machine's.
func serveMetrics(ctx context.Context, ca *x509.Certificate, cert *pki.Renewable, program *programMetrics) error {
	system, err := metrics.SystemGatherer(slog.New(logtree.NewSlogHandler(supervisor.Logger(ctx))))
	if err != nil {
		return err
	}
	return metrics.Config{
		CA: ca, Certificate: cert,
		Components: map[string]prometheus.Gatherer{
			"node":   program.registry,
			"etcd":   metrics.Prefixed(prometheus.DefaultGatherer, "etcd_", "grpc_server_"),
			"system": system,
		},
	}.Run(ctx)
}
