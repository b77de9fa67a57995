package nodemgmt

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Power is what Reboot and Shutdown ask of the platform. Both return once the request is
// accepted; the node goes down afterwards. platform.Platform satisfies it.
type Power interface {
	Reboot(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// RunnableStates reports the supervision tree; *supervisor.Supervisor satisfies it.
type RunnableStates interface {
	States() []supervisor.NodeState
}

// Self is what the node knows about itself for GetStatus.
type Self struct {
	NodeID string
	// State is the node's state as it last learned it from the curator; NODE_STATE_UNSPECIFIED
	// before it has heard anything.
	State apb.NodeState
	// Roles are the roles the node runs now; nil means none.
	Roles *apb.NodeRoles
}

// SelfReporter gives the node's current view of itself. It is called on every GetStatus, so it
// must be cheap and must not block (return the latest known value, not wait for a new one).
type SelfReporter interface {
	Self() Self
}

// SelfFunc adapts a function to SelfReporter.
type SelfFunc func() Self

// Self implements SelfReporter.
func (f SelfFunc) Self() Self { return f() }

// Config is what a Server reports on and acts through. Every field is required unless its
// comment says otherwise.
type Config struct {
	// Logs is the node's log tree, read by GetLogs.
	Logs *logtree.LogTree
	// Runnables is the node's supervisor.
	Runnables RunnableStates
	// Self gives node ID, state and roles.
	Self SelfReporter
	// Started is when the node program started; GetStatus reports the time since.
	Started time.Time
	// Power performs reboot and shutdown.
	Power Power
	// Logger records what operators did through this API (reboots, shutdowns, readers that
	// missed entries). Typically the logger of the runnable that serves the API.
	Logger logtree.LeveledLogger
	// Images imports uploaded image archives (LoadImage). Optional: nil on a node that can
	// never run a Kubernetes worker; LoadImage then answers FailedPrecondition.
	Images ImageLoader
	// SpoolDir is where LoadImage writes uploads before importing them (created if missing);
	// on the node a directory on the data partition, since archives may be gigabytes.
	// Required with Images.
	SpoolDir string
	// ProcRoot is where the proc filesystem that GetProcesses, GetMemory and GetMounts read is
	// mounted; empty: /proc.
	ProcRoot string
	// MaxImageArchiveSize bounds one upload; 0 means DefaultMaxImageArchiveSize.
	MaxImageArchiveSize int64
	// Updates installs release bundles (UpdateNode) and reports the node's software
	// (GetStatus). Optional: nil on a node without system slots (hosted); UpdateNode then
	// answers FailedPrecondition.
	Updates Updater
	// Bundles are the rollout bundles this node keeps and hands on to other nodes
	// (FetchBundle). Optional: nil on a node that keeps none (hosted); FetchBundle then
	// answers NotFound.
	Bundles BundleSource
	// RoleStatus asks the node's role services how they are, for GetStatus. Optional: nil
	// leaves those fields out.
	RoleStatus RoleStatusReporter
}

// RoleStatusReporter asks the node's etcd member and Kubernetes worker about themselves. Each
// answers nil when the node does not run it now, and otherwise within ctx's deadline, with an
// error inside the message rather than none.
type RoleStatusReporter interface {
	ConsensusStatus(ctx context.Context) *apb.ConsensusMemberStatus
	KubernetesNodeStatus(ctx context.Context) *apb.KubernetesNodeStatus
}

// Server implements apb.NodeManagementServer. Create it with New.
type Server struct {
	apb.UnimplementedNodeManagementServer
	cfg Config
	// maxArchive is the effective MaxImageArchiveSize.
	maxArchive int64
	// uploading holds a token while a LoadImage upload runs: one at a time, so that two
	// uploads cannot fill the data partition together.
	uploading chan struct{}
}

// New checks that cfg is complete and returns a Server.
func New(cfg Config) (*Server, error) {
	var missing []string
	for _, f := range []struct {
		name  string
		unset bool
	}{
		{"Logs", cfg.Logs == nil},
		{"Runnables", cfg.Runnables == nil},
		{"Self", cfg.Self == nil},
		{"Started", cfg.Started.IsZero()},
		{"Power", cfg.Power == nil},
		{"Logger", cfg.Logger == nil},
		{"SpoolDir (needed with Images)", cfg.Images != nil && cfg.SpoolDir == ""},
	} {
		if f.unset {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("node management config: %s not set", strings.Join(missing, ", "))
	}
	s := &Server{cfg: cfg, maxArchive: cfg.MaxImageArchiveSize, uploading: make(chan struct{}, 1)}
	if s.maxArchive <= 0 {
		s.maxArchive = DefaultMaxImageArchiveSize
	}
	return s, nil
}

// Register adds the NodeManagement service to g. Authorization is g's business (its
// interceptors), not this package's.
func (s *Server) Register(g grpc.ServiceRegistrar) {
	apb.RegisterNodeManagementServer(g, s)
}
