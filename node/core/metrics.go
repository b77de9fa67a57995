package core

import (
	"context"
	"crypto/x509"
	"log/slog"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	cpb "metropolis.dev/metropolis/api/curator/v1"
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
// metrics unset), the machine's, and its Kubernetes components' (a node that does not run one
// now answers it with why).
func serveMetrics(ctx context.Context, ca *x509.Certificate, cert *pki.Renewable, program *programMetrics, kubernetes map[string]prometheus.Gatherer, members func() ([]metrics.Member, bool)) error {
	system, err := metrics.SystemGatherer(slog.New(logtree.NewSlogHandler(supervisor.Logger(ctx))))
	if err != nil {
		return err
	}
	components := map[string]prometheus.Gatherer{
		"node":   program.registry,
		"etcd":   metrics.Prefixed(prometheus.DefaultGatherer, "etcd_", "grpc_server_"),
		"system": system,
	}
	for name, g := range kubernetes {
		components[name] = g
	}
	return metrics.Config{CA: ca, Certificate: cert, Components: components, Members: members}.Run(ctx)
}

// metricsMembers lists the cluster's UP nodes for the metrics discovery document, as roleserve
// last heard them; false before the node knows its roles' service or has heard the nodes.
func (n *Node) metricsMembers() ([]metrics.Member, bool) {
	v := n.self.Load()
	if v == nil || v.roles == nil {
		return nil, false
	}
	nodes, ok := v.roles.UpNodes()
	if !ok {
		return nil, false
	}
	members := make([]metrics.Member, 0, len(nodes))
	for _, node := range nodes {
		members = append(members, metrics.Member{
			ID: node.GetId(), Address: node.GetStatus().GetExternalAddress(), Roles: roleNames(node.GetRoles()),
		})
	}
	return members, true
}

// roleNames names the roles r holds as the API does.
func roleNames(r *cpb.NodeRoles) []string {
	var names []string
	if r.GetConsensusMember() != nil {
		names = append(names, "ConsensusMember")
	}
	if r.GetKubernetesController() != nil {
		names = append(names, "KubernetesController")
	}
	if r.GetKubernetesWorker() != nil {
		names = append(names, "KubernetesWorker")
	}
	return names
}
