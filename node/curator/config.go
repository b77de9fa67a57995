package curator

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"google.golang.org/grpc"

	clientv3 "go.etcd.io/etcd/client/v3"

	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/update"
)

const (
	// DefaultLeaseTTL is the leader's etcd lease: how long a vanished leader (crashed, cut
	// off) keeps the cluster without one. A stopping leader gives its lease up at once.
	DefaultLeaseTTL = 5 * time.Second
	// HeartbeatInterval is how often nodes should send a heartbeat.
	HeartbeatInterval = 5 * time.Second
	// DefaultHeartbeatTimeout is how long a node may stay silent before it is reported as
	// HEARTBEAT_TIMEOUT: three missed heartbeats, so one lost message or a slow reconnect to a
	// new leader does not flap a node's health.
	DefaultHeartbeatTimeout = 3 * HeartbeatInterval
	// DefaultOrphanLearnerGrace is how long an etcd learner that no node holding the consensus
	// member role accounts for may stay before the leader removes it: far longer than the
	// moment between adding a learner and storing the role in UpdateNodeRoles.
	DefaultOrphanLearnerGrace = time.Minute
	// DefaultRolloutInterval is how often the leader looks at a running rollout: short next
	// to anything a node does in one (a drain, a reboot), and cheap (one read of the nodes).
	DefaultRolloutInterval = 3 * time.Second
)

// BundleKeeper keeps and checks rollout bundles on this node (node/update.Keeper).
type BundleKeeper interface {
	// Keep reads a bundle of size bytes, checks it as an update would, and keeps it; errors
	// wrap update.ErrRefused for a bundle that does not verify.
	Keep(ctx context.Context, r io.Reader, size int64) (update.Kept, error)
}

// Config is what a curator needs from its node.
type Config struct {
	// Etcd is a client of this node's etcd member (consensus.Status.Client).
	Etcd *clientv3.Client
	// NodeCertificate is this node's certificate (with Leaf set) and key, issued by the
	// cluster CA. The curator serves with it (renewed, from the next handshake) and names
	// itself by its node ID.
	NodeCertificate *pki.Renewable
	// ListenAddress is where the gRPC services listen, e.g. ":7835" (ports.Curator).
	ListenAddress string
	// ServerOptions are added to the gRPC server's own, after its authorization: the node's
	// RPC metrics (node/metrics).
	ServerOptions []grpc.ServerOption
	// AdvertiseAddress is host:port at which other nodes and clients reach this curator; it
	// is what Discovery hands out while this curator leads.
	AdvertiseAddress string
	// ConsensusPeerPort is the etcd peer port every node listens on; a node granted the
	// consensus member role is added to etcd at its address and this port. Zero means
	// ports.ConsensusPeer; tests set another.
	ConsensusPeerPort int
	// LeaseTTL is the leader election lease, rounded to whole seconds (etcd's unit). Zero
	// means DefaultLeaseTTL.
	LeaseTTL time.Duration
	// HeartbeatTimeout is how long a node may go without a heartbeat before it is reported
	// as HEARTBEAT_TIMEOUT. Zero means DefaultHeartbeatTimeout.
	HeartbeatTimeout time.Duration
	// OrphanLearnerGrace is how long the leader leaves an etcd learner that no node holding
	// the consensus member role accounts for. Zero means DefaultOrphanLearnerGrace.
	OrphanLearnerGrace time.Duration
	// Bundles keeps the bundles of rollouts started through this curator. Optional: nil where
	// the node cannot check or keep bundles (hosted nodes); StartRollout then answers
	// codes.FailedPrecondition.
	Bundles BundleKeeper
	// NodeManagementPort is the port every node serves NodeManagement on, where nodes fetch a
	// rollout's bundle from the nodes keeping it. Zero means ports.NodeManagement.
	NodeManagementPort int
	// RolloutInterval is how often the leader tends a running rollout. Zero means
	// DefaultRolloutInterval.
	RolloutInterval time.Duration
}

// withDefaults checks the configuration and fills in defaults, returning this node's ID.
func (c *Config) withDefaults() (nodeID string, err error) {
	var errs []error
	if c.Etcd == nil {
		errs = append(errs, errors.New("no etcd client (Config.Etcd)"))
	}
	if c.NodeCertificate == nil || c.NodeCertificate.Current().Leaf == nil {
		errs = append(errs, errors.New("NodeCertificate: no leaf certificate (Leaf is nil)"))
	} else if leaf := c.NodeCertificate.Current().Leaf; !isNodeCertificate(leaf) {
		errs = append(errs, fmt.Errorf("NodeCertificate: %q is not a node certificate", leaf.Subject))
	} else {
		nodeID = leaf.Subject.CommonName
	}
	if _, _, err := net.SplitHostPort(c.ListenAddress); err != nil {
		errs = append(errs, fmt.Errorf("ListenAddress %q: %w", c.ListenAddress, err))
	}
	if host, _, err := net.SplitHostPort(c.AdvertiseAddress); err != nil || host == "" {
		errs = append(errs, fmt.Errorf("AdvertiseAddress %q: want host:port", c.AdvertiseAddress))
	}
	if c.ConsensusPeerPort == 0 {
		c.ConsensusPeerPort = int(ports.ConsensusPeer)
	}
	if c.ConsensusPeerPort < 0 || c.ConsensusPeerPort > 65535 {
		errs = append(errs, fmt.Errorf("ConsensusPeerPort %d: out of range", c.ConsensusPeerPort))
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.LeaseTTL < 2*time.Second {
		errs = append(errs, fmt.Errorf("LeaseTTL %v: etcd needs at least 2s", c.LeaseTTL))
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if c.HeartbeatTimeout < 0 {
		errs = append(errs, fmt.Errorf("HeartbeatTimeout %v: negative", c.HeartbeatTimeout))
	}
	if c.OrphanLearnerGrace == 0 {
		c.OrphanLearnerGrace = DefaultOrphanLearnerGrace
	}
	if c.OrphanLearnerGrace < 0 {
		errs = append(errs, fmt.Errorf("OrphanLearnerGrace %v: negative", c.OrphanLearnerGrace))
	}
	if c.NodeManagementPort == 0 {
		c.NodeManagementPort = int(ports.NodeManagement)
	}
	if c.RolloutInterval == 0 {
		c.RolloutInterval = DefaultRolloutInterval
	}
	if err := errors.Join(errs...); err != nil {
		return "", fmt.Errorf("curator config: %w", err)
	}
	return nodeID, nil
}

func isNodeCertificate(cert *x509.Certificate) bool {
	k, err := pki.KindOf(cert)
	return err == nil && k == pki.KindNode
}
