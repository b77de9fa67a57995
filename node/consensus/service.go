package consensus

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"

	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/event/memory"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// startTimeout bounds how long a member may take to become ready. A joining learner is ready as
// soon as it has contacted the cluster, so this covers a slow disk, not a slow catch-up.
const startTimeout = 2 * time.Minute

// Status is what the rest of the node sees of its member. A nil *Status means not running.
type Status struct {
	// Client talks to the local member in-process, without TLS or the network. It stays valid
	// until the member stops; watchers get a new Status when it restarts.
	Client *clientv3.Client
	// MemberID is etcd's ID of this member.
	MemberID uint64
	// ClientURL is where local clients reach this member over TLS (loopback only).
	ClientURL string
}

// Service runs one etcd member. Create it with New, run Run under the supervisor.
type Service struct {
	config Config
	status memory.Value[*Status]
}

// New checks the configuration and returns a service that is not yet running.
func New(config Config) (*Service, error) {
	if err := config.validate(); err != nil {
		return nil, err
	}
	return &Service{config: config}, nil
}

// Watch follows the member's status: nil while it is not running, else a ready client.
func (s *Service) Watch() event.Watcher[*Status] { return s.status.Watch() }

// Run starts the member, signals healthy once it serves, and stops it when ctx ends. It returns
// an error if etcd fails, so that the supervisor restarts it from its data directory.
func (s *Service) Run(ctx context.Context) error {
	logger := supervisor.Logger(ctx)
	tlsDir, err := s.config.writeTLS()
	if err != nil {
		return err
	}
	cfg, err := s.config.embedConfig(tlsDir)
	if err != nil {
		return err
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newZapLogger(logger))
	switch {
	case s.config.hasMember():
		logger.Infof("restarting member %s from %s", s.config.Name, s.config.etcdDir())
	case len(s.config.InitialCluster) == 0:
		logger.Infof("bootstrapping a new cluster with member %s at %s", s.config.Name, s.config.PeerURL())
	default:
		logger.Infof("joining cluster %s as member %s", cfg.InitialCluster, s.config.Name)
	}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start etcd: %w", err)
	}
	defer func() {
		s.status.Set(nil)
		e.Close()
	}()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return fmt.Errorf("etcd failed while starting: %w", err)
	case <-time.After(startTimeout):
		return fmt.Errorf("etcd not ready after %s", startTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	client := v3client.New(e.Server)
	defer client.Close()
	s.status.Set(&Status{Client: client, MemberID: uint64(e.Server.MemberID()), ClientURL: s.config.ClientURL()})
	logger.Infof("member %s (%x) ready, serving clients at %s", s.config.Name, uint64(e.Server.MemberID()), s.config.ClientURL())
	supervisor.Signal(ctx, supervisor.SignalHealthy)

	select {
	case err := <-e.Err():
		return fmt.Errorf("etcd failed: %w", err)
	case <-e.Server.StopNotify():
		return fmt.Errorf("etcd stopped (removed from the cluster?)")
	case <-ctx.Done():
		return ctx.Err()
	}
}
