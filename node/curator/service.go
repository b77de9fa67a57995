package curator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/rpc"
	"metropolis.dev/metropolis/osbase/event/memory"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Service is one node's curator. Create it with New and run Run under the supervisor on every
// consensus member, after Bootstrap (first node) or after the node's etcd member has joined.
type Service struct {
	cfg    Config
	nodeID string

	// leading is this curator's leadership while it leads, else nil.
	leading atomic.Pointer[leader]
	// currentLeader is the leader as the election in etcd shows it (nil: none), and
	// leaderView the same as a watchable value for Discovery.GetCurrentLeader streams.
	currentLeader atomic.Pointer[cpb.LeaderRecord]
	leaderView    memory.Value[*cpb.LeaderRecord]
}

// New checks the configuration and returns a curator that is not yet running.
func New(cfg Config) (*Service, error) {
	nodeID, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, nodeID: nodeID}, nil
}

// Run serves the curator's gRPC services on Config.ListenAddress and takes part in the leader
// election until ctx ends. It returns an error (and the supervisor restarts it) if the
// cluster is not bootstrapped, the listener fails, or the election fails.
func (s *Service) Run(ctx context.Context) error {
	ca, err := getCACertificate(ctx, s.cfg.Etcd)
	if err != nil {
		return err
	}
	if _, err := pki.VerifyNode(s.cfg.NodeCertificate.Current().Leaf, ca, pki.PurposeServer, time.Now()); err != nil {
		return fmt.Errorf("this node's certificate is not usable with the cluster CA: %w", err)
	}
	lis, err := net.Listen("tcp", s.cfg.ListenAddress)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.ListenAddress, err)
	}
	opts := append(rpc.ServerOptions(ca, s.cfg.NodeCertificate, s.checkNode),
		grpc.ChainUnaryInterceptor(s.gateUnary),
		grpc.ChainStreamInterceptor(s.gateStream))
	srv := grpc.NewServer(append(opts, s.cfg.ServerOptions...)...)
	apb.RegisterDiscoveryServer(srv, &discoveryServer{s: s, ca: ca})
	apb.RegisterAAAServer(srv, &aaaServer{})
	apb.RegisterManagementServer(srv, &managementServer{})
	cpb.RegisterCuratorServer(srv, &curatorServer{})

	if err := supervisor.Run(ctx, "observer", s.observeLeader); err != nil {
		lis.Close()
		return err
	}
	if err := supervisor.Run(ctx, "election", s.campaign); err != nil {
		lis.Close()
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	supervisor.Logger(ctx).Infof("curator of node %s serving on %s", s.nodeID, lis.Addr())
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	select {
	case <-ctx.Done():
		// Stop, not GracefulStop: streams (heartbeats, watches) never end by themselves.
		srv.Stop()
		return ctx.Err()
	case err := <-served:
		if err == nil {
			err = errors.New("server stopped")
		}
		return fmt.Errorf("serve on %s: %w", s.cfg.ListenAddress, err)
	}
}
