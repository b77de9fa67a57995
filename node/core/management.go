package core

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"

	"google.golang.org/grpc"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/nodemgmt"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/roleserve"
	"metropolis.dev/metropolis/node/rpc"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// selfView is what the management API reports about the node itself.
type selfView struct {
	nodeID string
	roles  *roleserve.Service
}

// Self implements nodemgmt.SelfReporter.
func (n *Node) Self() nodemgmt.Self {
	v := n.self.Load()
	if v == nil {
		return nodemgmt.Self{}
	}
	s := nodemgmt.Self{NodeID: v.nodeID}
	if v.roles != nil {
		s.Roles = v.roles.CurrentRoles()
	}
	switch {
	case v.roles != nil && v.roles.Deleted():
		// Accepted at its start, deleted since: the cluster's record says DECOMMISSIONED, and
		// so must the node itself, rather than the UP it started with.
		s.State = apb.NodeState_NODE_STATE_DECOMMISSIONED
	case n.accepted.Load():
		s.State = apb.NodeState_NODE_STATE_UP
	}
	return s
}

// ConsensusStatus implements nodemgmt.RoleStatusReporter.
func (n *Node) ConsensusStatus(ctx context.Context) *apb.ConsensusMemberStatus {
	if v := n.self.Load(); v != nil && v.roles != nil {
		return v.roles.ConsensusStatus(ctx)
	}
	return nil
}

// KubernetesNodeStatus implements nodemgmt.RoleStatusReporter.
func (n *Node) KubernetesNodeStatus(ctx context.Context) *apb.KubernetesNodeStatus {
	if v := n.self.Load(); v != nil && v.roles != nil {
		return v.roles.KubernetesNodeStatus(ctx)
	}
	return nil
}

// States implements nodemgmt.RunnableStates.
func (n *Node) States() []supervisor.NodeState {
	if s := n.sup.Load(); s != nil {
		return s.States()
	}
	return nil
}

// checkCallingNode lets another node call the node management API (its certificate then
// holds only PERMISSION_FETCH_BUNDLE) while this node knows it as an UP node of the cluster:
// not a deleted node, whose certificate may not have expired yet.
func (n *Node) checkCallingNode(_ context.Context, nodeID string) error {
	v := n.self.Load()
	if v == nil || v.roles == nil {
		return fmt.Errorf("node %s: this node has not joined its cluster yet, so it cannot tell its nodes", nodeID)
	}
	if !v.roles.IsUpNode(nodeID) {
		return fmt.Errorf("node %s is not an UP node of this cluster (deleted, or not yet up)", nodeID)
	}
	return nil
}

// LoadImage imports an uploaded image archive into this node's Kubernetes worker.
func (n *Node) LoadImage(ctx context.Context, path string) ([]string, error) {
	v := n.self.Load()
	if v == nil || v.roles == nil {
		return nil, fmt.Errorf("%w: the node has not joined its cluster", nodemgmt.ErrNoWorker)
	}
	return v.roles.LoadImage(ctx, path)
}

// serveManagement serves the node management API with the node's certificate. The owner may
// call it, and other nodes only to fetch rollout bundles (declared per method in the API),
// and only while this node knows them as UP nodes of its cluster.
func (n *Node) serveManagement(ctx context.Context, ca *x509.Certificate, cert *pki.Renewable, bundles *update.Keeper, extra []grpc.ServerOption) error {
	cfg := nodemgmt.Config{
		Logs: n.logs, Runnables: n, Self: n, Started: n.started, Power: n.plat,
		Logger: supervisor.Logger(ctx),
		// Uploads go to the data partition (the node has no other writable disk space), which
		// is mounted by the time a worker runs to import them.
		Images: n, SpoolDir: filepath.Join(n.plat.StateDir(), "image-uploads"),
		RoleStatus: n,
	}
	if u := n.plat.Updates(); u != nil {
		cfg.Updates = u
	}
	if bundles != nil {
		cfg.Bundles = bundles
	}
	srv, err := nodemgmt.New(cfg)
	if err != nil {
		return err
	}
	g := grpc.NewServer(append(rpc.ServerOptions(ca, cert, n.checkCallingNode), extra...)...)
	srv.Register(g)
	lis, err := net.Listen("tcp", fmt.Sprintf(":%d", ports.NodeManagement))
	if err != nil {
		return fmt.Errorf("listen for node management: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(lis) }()
	supervisor.Logger(ctx).Infof("node management API serving on %s", lis.Addr())
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	select {
	case <-ctx.Done():
		g.Stop()
		return ctx.Err()
	case err := <-served:
		return fmt.Errorf("node management API stopped: %w", err)
	}
}
