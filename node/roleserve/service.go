package roleserve

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"k8s.io/utils/clock"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/consensus"
	"metropolis.dev/metropolis/node/kubernetes"
	"metropolis.dev/metropolis/node/kubernetes/worker"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/rpc"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/event/memory"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Config is what the role workers need from an enrolled node.
type Config struct {
	// NodeID, NodeKey and NodeCertificate are the node's identity (Leaf set). The certificate
	// is renewed while the node runs (renewCertificates).
	NodeID          string
	NodeKey         ed25519.PrivateKey
	NodeCertificate *pki.Renewable
	// CA is the cluster CA.
	CA *x509.Certificate
	// Address is this node's IP address.
	Address net.IP
	// Curators are host:port of the cluster's curators, for reaching the leader.
	Curators []string
	// BootstrapConsensus makes this node's member, if it has no data yet, start a new cluster
	// instead of waiting for the curator: the first node, which has issued its own etcd
	// certificate (WriteConsensusCertificate).
	BootstrapConsensus bool
	// OnMemberReady, if set, is called each time this node's etcd member is ready, before the
	// curator starts on it; an error restarts the worker. The first node creates the cluster
	// here. It is a step in the worker's sequence, not a report: what roleserve learns for the
	// node to keep (roles, curators, renewed certificates) it publishes as values instead
	// (Roles, Curators, NodeCertificate.Watch).
	OnMemberReady func(ctx context.Context, etcd *clientv3.Client) error
	// StateDir is where the workers keep their files (the consensus member's data, its
	// certificate, the Kubernetes control plane's files).
	StateDir string
	// KubeBinary is the `kube` multicall binary of the Kubernetes control plane; empty: see
	// kubernetes.Config.KubeBinary. The worker's runtime (containerd, runc, CNI plugins) is
	// looked for next to it.
	KubeBinary string
	// Clock is the time certificate renewals wait by; nil: the real clock (tests inject a fake).
	Clock clock.WithTicker
	// Software, if not nil, is what the node runs and what its system slots hold
	// (node/update), reported to the curator with the node's status.
	Software SoftwareSource
	// Bundles, if not nil, keeps release bundles for rollouts on the data partition: the
	// curator that runs here keeps uploaded bundles with it, and what it keeps is reported
	// with the node's status for other nodes to fetch.
	Bundles *update.Keeper
	// RPCServerOptions are added to the curator's gRPC server (curator.Config.ServerOptions).
	RPCServerOptions []grpc.ServerOption
	// Time, if not nil, is how the node keeps its clock: reported with the node's status, and
	// what a consensus member says of its source when it answers NTP requests.
	Time TimeSource
	// Network, if not nil, is the node's network, which follows the node's configuration;
	// the node's address then follows the network (Address).
	Network NetworkControl
	// RunDir is where the Kubernetes worker keeps files that mean nothing after a reboot
	// (a tmpfs); empty: /run/metropolis/kubernetes-worker.
	RunDir string
}

// SoftwareSource follows what the node runs (node/update.Service satisfies it).
type SoftwareSource interface {
	Software() event.Watcher[*apb.NodeSoftware]
}

// Service runs the role workers. Create it with New, run Run under the supervisor.
type Service struct {
	cfg Config
	// roles are the node's roles as the curator last said; nil until it has said.
	roles memory.Value[*cpb.NodeRoles]
	// latestRoles is the same, readable without waiting, for the status API.
	latestRoles atomic.Pointer[cpb.NodeRoles]
	// deleted says the curator sent this node's tombstone: it is no longer a member, whatever
	// it was when it started (Deleted).
	deleted atomic.Bool
	// curatorRunning says whether this node serves a curator, for the status report.
	curatorRunning memory.Value[bool]
	// curators are the addresses the node asks for the curator leader; they grow as the node
	// learns the cluster's curators.
	curators *rpc.CuratorAddresses
	// curatorList is the cluster's curators as last seen (Curators).
	curatorList memory.Value[[]string]
	// updateTarget is the node's update target as last seen (UpdateTarget).
	updateTarget memory.Value[*cpb.UpdateTarget]
	// upNodes is the IDs of the cluster's UP nodes as last seen (IsUpNode); nil before the
	// first complete set.
	upNodes atomic.Pointer[map[string]bool]
	// upNodeList is the same nodes whole (UpNodes), for the metrics discovery document.
	upNodeList atomic.Pointer[[]*cpb.Node]
	// localEtcd is this node's etcd member once it votes, nil otherwise; the Kubernetes
	// control plane runs on it.
	localEtcd memory.Value[*consensus.Status]
	// heartbeating says a heartbeat of this boot was answered by the curator leader.
	heartbeating memory.Value[bool]
	// worker is the running Kubernetes worker, nil if none runs.
	worker atomic.Pointer[worker.Service]
	// controlPlane is the running Kubernetes control plane, nil if none runs.
	controlPlane atomic.Pointer[kubernetes.Service]
	// removeConsensusData asks the next start of the consensus worker to delete the data of a
	// member whose role was removed.
	removeConsensusData atomic.Bool
	// nodeConfig is what the node's record says of its configuration, clusterConfig the
	// cluster's configuration, and configuration the two merged (Configuration).
	nodeConfig    memory.Value[*nodeConfigInput]
	clusterConfig memory.Value[*apb.StoredClusterConfiguration]
	configuration memory.Value[*Configuration]
	kubeletConfig memory.Value[*apb.KubeletConfiguration]
	trials        trials
	// applied is the configuration as the node has applied it (followNetwork), address the
	// address the node is reached at (Address).
	applied        memory.Value[*applied]
	address        memory.Value[net.IP]
	currentAddress atomic.Pointer[net.IP]
	// heartbeats counts heartbeats by outcome (Collectors).
	heartbeats *prometheus.CounterVec
}

// New returns the role workers of an enrolled node.
func New(cfg Config) *Service {
	s := &Service{cfg: cfg, curators: rpc.NewCuratorAddresses(cfg.Curators), trials: trials{reverted: make(map[trialKey]bool)}}
	s.setAddress(cfg.Address)
	s.heartbeats = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "metropolis_heartbeats_total",
		Help: "Heartbeats this node sent to the curator leader, by result: answered, or failed (the stream broke; a leader change does that).",
	}, []string{"result"})
	if cfg.BootstrapConsensus || ConsensusDataExists(cfg.StateDir) {
		// This node's own curator is one to ask, and may be the only one reachable.
		s.curators.Add(net.JoinHostPort(cfg.Address.String(), strconv.Itoa(int(ports.Curator))))
	}
	return s
}

// Collectors are the role workers' metrics, for the node program's registry (node/metrics).
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.heartbeats}
}

// Run dials the curator leader and runs the watcher and the workers as one group.
func (s *Service) Run(ctx context.Context) error {
	conn, err := s.dialCurator()
	if err != nil {
		return err
	}
	defer conn.Close()
	cur := cpb.NewCuratorClient(conn)
	// Separate children, not a group: a worker that restarts (a leader change ends the watch
	// stream) leaves the others running.
	workers := []struct {
		name string
		run  supervisor.Runnable
	}{
		{"watch", func(ctx context.Context) error { return s.watchRoles(ctx, cur) }},
		{"consensus", func(ctx context.Context) error {
			if err := s.forgetRemovedMember(); err != nil {
				return err
			}
			return s.runConsensus(ctx, cur)
		}},
		{"kubernetes", func(ctx context.Context) error { return s.runKubernetes(ctx, cur) }},
		{"kubernetes-worker", func(ctx context.Context) error { return s.runWorker(ctx, cur) }},
		{"heartbeat", func(ctx context.Context) error { return s.heartbeat(ctx, cur) }},
		{"curators", func(ctx context.Context) error { return s.followCurators(ctx, cur) }},
		{"status", func(ctx context.Context) error { return s.reportStatus(ctx, cur) }},
		{"renew-certificate", func(ctx context.Context) error { return s.renewNodeCertificates(ctx, cur) }},
		{"cluster-configuration", func(ctx context.Context) error { return s.watchClusterConfiguration(ctx, cur) }},
		{"configuration", s.mergeConfiguration},
		{"network", s.followNetwork},
	}
	for _, w := range workers {
		if err := supervisor.Run(ctx, w.name, w.run); err != nil {
			return err
		}
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	<-ctx.Done()
	return ctx.Err()
}

func (s *Service) dialCurator() (*grpc.ClientConn, error) {
	conn, err := rpc.DialCuratorAt(s.curators, s.cfg.CA, s.cfg.NodeCertificate)
	if err != nil {
		return nil, fmt.Errorf("dial curator at %v: %w", s.curators.List(), err)
	}
	return conn, nil
}

// watchRoles follows this node's record at the curator and publishes its roles. A stream that
// ends (leader change) is an error: the supervisor opens it again.
func (s *Service) watchRoles(ctx context.Context, cur cpb.CuratorClient) error {
	stream, err := cur.Watch(ctx, &cpb.WatchRequest{Kind: &cpb.WatchRequest_Node{
		Node: &cpb.WatchRequest_NodeInCluster{NodeId: s.cfg.NodeID},
	}})
	if err != nil {
		return fmt.Errorf("watch node %s: %w", s.cfg.NodeID, err)
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	for {
		ev, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("watch node %s: %w", s.cfg.NodeID, err)
		}
		for _, n := range ev.Nodes {
			if n.Id == s.cfg.NodeID {
				roles := n.Roles
				if roles == nil {
					roles = &cpb.NodeRoles{}
				}
				s.latestRoles.Store(roles)
				s.roles.Set(roles)
				s.updateTarget.Set(n.UpdateTarget)
				s.nodeConfig.Set(inputFromRecord(n))
			}
		}
		for _, t := range ev.NodeTombstones {
			if t.NodeId == s.cfg.NodeID {
				supervisor.Logger(ctx).Warningf("this node (%s) was deleted from the cluster; its roles end", s.cfg.NodeID)
				s.deleted.Store(true)
				s.latestRoles.Store(&cpb.NodeRoles{})
				s.roles.Set(&cpb.NodeRoles{})
				s.updateTarget.Set(nil)
			}
		}
	}
}

// Roles follows the node's roles as the curator says them: nil until it has said, empty once
// the node was deleted.
func (s *Service) Roles() event.Watcher[*cpb.NodeRoles] { return s.roles.Watch() }

// UpdateTarget follows the update a rollout wants this node to install and boot, as the
// curator says it: nil when there is none.
func (s *Service) UpdateTarget() event.Watcher[*cpb.UpdateTarget] { return s.updateTarget.Watch() }

// Heartbeating says whether the curator leader has answered a heartbeat of this node since
// it started: the cluster takes the node as alive.
func (s *Service) Heartbeating() event.Watcher[bool] { return s.heartbeating.Watch() }

// LocalConsensus follows this node's etcd member: its status once it votes, nil otherwise.
func (s *Service) LocalConsensus() event.Watcher[*consensus.Status] { return s.localEtcd.Watch() }

// Deleted says whether the curator told this node that it was deleted from the cluster. The
// node keeps running (its operator may still read its logs and status) but is a member no
// more, and says so in its status.
func (s *Service) Deleted() bool { return s.deleted.Load() }

// CurrentRoles returns the node's roles as the curator last said, as the public API shows them;
// nil before it has said anything.
func (s *Service) CurrentRoles() *apb.NodeRoles {
	return publicRoles(s.latestRoles.Load())
}

func publicRoles(r *cpb.NodeRoles) *apb.NodeRoles {
	if r == nil {
		return nil
	}
	return &apb.NodeRoles{
		ConsensusMember:      r.ConsensusMember != nil,
		KubernetesController: r.KubernetesController != nil,
		KubernetesWorker:     r.KubernetesWorker != nil,
	}
}

// clock is Config.Clock, or the real clock.
func (s *Service) clock() clock.WithTicker {
	if s.cfg.Clock == nil {
		return clock.RealClock{}
	}
	return s.cfg.Clock
}
