package core

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/platform"
	"metropolis.dev/metropolis/node/roleserve"
	"metropolis.dev/metropolis/node/timesync"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/osbase/event/memory"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Node is the node program's top runnable. Create it with New.
type Node struct {
	plat    platform.Platform
	logs    *logtree.LogTree
	started time.Time
	// sup is the supervisor the node runs under, for the status API; Run takes it from its
	// context.
	sup atomic.Pointer[supervisor.Supervisor]
	// self is what the node knows about itself (ID, roles), for the status API.
	self atomic.Pointer[selfView]
	// accepted says the cluster took this node in (bootstrap, or a join it answered).
	accepted atomic.Bool
	// rejoined says whether the node is back in its cluster, for a trial boot to commit.
	rejoined memory.Value[update.Rejoined]
}

// New returns the node; run its Run under a supervisor that writes to logs.
func New(plat platform.Platform, logs *logtree.LogTree) *Node {
	return &Node{plat: plat, logs: logs, started: time.Now()}
}

func (n *Node) logger(ctx context.Context) logtree.LeveledLogger { return supervisor.Logger(ctx) }

// Run makes the node part of its cluster and runs its services until ctx ends.
func (n *Node) Run(ctx context.Context) error {
	n.sup.Store(supervisor.Of(ctx))
	logger := n.logger(ctx)
	if n.plat.Kind() == "hosted" {
		logger.Warning("hosted node: not a security boundary; state is kept in plain files in ", n.plat.StateDir(), ", nothing is sealed or encrypted")
	}
	store, joined, err := n.openStorage(ctx)
	if err != nil {
		return err
	}
	stateDir := n.plat.StateDir()
	nodeKey, err := loadOrCreateKey(stateDir, nodeKeyFile)
	if err != nil {
		return err
	}
	joinKey, err := store.current.joinKey()
	if err != nil {
		return err
	}
	nodeID := identity.NodeID(nodeKey.Public().(ed25519.PublicKey))
	if sealedID := store.current.NodeID; sealedID != "" && sealedID != nodeID {
		return fmt.Errorf("the sealed record belongs to node %s, but the data storage holds the key of node %s", sealedID, nodeID)
	}
	n.self.Store(&selfView{nodeID: nodeID})
	addr, err := n.plat.Address(ctx)
	if err != nil {
		return fmt.Errorf("address: %w", err)
	}
	logger.Infof("node %s at %s, state in %s", nodeID, addr, stateDir)

	rec, err := n.enrol(ctx, stateDir, store, nodeKey, joinKey, addr, nodeID)
	if err != nil {
		return err
	}
	bootstrapping := rec.Bootstrap != nil
	ca, err := rec.ca()
	if err != nil {
		return err
	}
	nodeCert, err := rec.nodeCertificate()
	if err != nil {
		return err
	}
	tlsCert, err := pki.TLSCertificate(nodeCert, nodeKey)
	if err != nil {
		return err
	}
	renewable := pki.NewRenewable(tlsCert)
	program := newProgramMetrics(n, renewable)
	// Rollout bundles live on the data partition, next to the rest of the node's state.
	var bundles *update.Keeper
	if u := n.plat.Updates(); u != nil {
		bundles = update.NewKeeper(filepath.Join(stateDir, "bundles"), u.Keys())
	}
	if err := supervisor.Run(ctx, "nodemgmt", func(ctx context.Context) error {
		return n.serveManagement(ctx, ca, renewable, bundles, program.serverOptions())
	}); err != nil {
		return err
	}

	// The clock: set from the cluster's time reference (timesync.ClusterServers), once far
	// off at boot and gradually after; a hosted node shares its machine's clock and only
	// measures it.
	clusterClock := newClusterTime(rec.Curators, addr)
	clusterClock.member.Store(bootstrapping || roleserve.ConsensusDataExists(stateDir))
	clock := timesync.New(timesync.Config{
		Servers: clusterClock.servers, IsReference: clusterClock.isReference, Peers: clusterClock.peers,
		MeasureOnly: n.plat.Kind() == "hosted",
	})
	if err := supervisor.Run(ctx, "time", clock.Run); err != nil {
		return err
	}

	cfg := roleserve.Config{
		NodeID: nodeID, NodeKey: nodeKey, NodeCertificate: renewable, CA: ca, Address: addr,
		Curators: rec.Curators, StateDir: stateDir, BootstrapConsensus: bootstrapping,
		OnMemberReady:    n.bootstrapOnce(store, rec.Bootstrap, nodeKey, joinKey, addr),
		RPCServerOptions: program.serverOptions(), Time: clock,
	}
	if u := n.plat.Updates(); u != nil {
		cfg.Software, cfg.Bundles = u, bundles
	}
	if nw := n.plat.Network(); nw != nil {
		cfg.Network = nw
	}
	roles := roleserve.New(cfg)
	program.registry.MustRegister(roles.Collectors()...)
	n.self.Store(&selfView{nodeID: nodeID, roles: roles})
	if err := supervisor.Run(ctx, "metrics", func(ctx context.Context) error {
		return serveMetrics(ctx, ca, renewable, program, roles.KubernetesMetrics(), n.metricsMembers)
	}); err != nil {
		return err
	}
	// What the node learns while it runs is kept by watching the values that publish it.
	for _, k := range []struct {
		name string
		run  supervisor.Runnable
	}{
		{"keep-node-certificate", keepNodeCertificate(store, renewable)},
		{"keep-curators", keepCurators(store, roles.Curators)},
		{"time-servers", clusterClock.follow(roles.Curators)},
		{"time-configuration", clusterClock.followConfiguration(roles.Configuration, clock)},
		{"time-membership", clusterClock.followRoles(roles.Roles)},
		{"keep-escrow", keepClusterHalfEscrow(store, roles.Roles)},
		{"rejoined", n.followRejoined(roles)},
	} {
		if err := supervisor.Run(ctx, k.name, k.run); err != nil {
			return err
		}
	}
	if nw := n.plat.Network(); nw != nil {
		if err := supervisor.Run(ctx, "time-dhcp", clusterClock.followDHCP(nw, clock)); err != nil {
			return err
		}
	}
	if u := n.plat.Updates(); u != nil {
		follow := u.Follow(update.FollowConfig{
			Targets: roles.UpdateTarget, Keeper: bundles, Fetch: bundleFetcher(ca, renewable), Reboot: n.plat.Reboot,
		})
		if err := supervisor.Run(ctx, "update-follower", follow); err != nil {
			return err
		}
	}

	plan := decideStart(startFacts{
		bootstrapping: bootstrapping, consensusData: roleserve.ConsensusDataExists(stateDir), joined: joined != nil,
	})
	if plan.rolesFirst {
		if err := supervisor.Run(ctx, "roleserve", roles.Run); err != nil {
			return err
		}
	}
	if plan.join {
		if joined, err = joinUntilAccepted(ctx, ca, rec.Curators, nodeID, joinKey, n.quoterFor(rec.AttestationKey)); err != nil {
			return err
		}
	}
	if joined != nil {
		// A fresh certificate comes with every join: what renews a node that was off for
		// longer than its certificate lasts (a running node renews it itself, roleserve).
		adoptJoinCertificate(ctx, joined.GetNodeCertificate(), ca, nodeKey, renewable)
	}
	n.accepted.Store(true)
	if !plan.rolesFirst {
		if err := supervisor.Run(ctx, "roleserve", roles.Run); err != nil {
			return err
		}
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	<-ctx.Done()
	return ctx.Err()
}

// enrol makes the node a member of its cluster if it is not one yet, and returns its record.
func (n *Node) enrol(ctx context.Context, stateDir string, store *sealedStore, nodeKey, joinKey ed25519.PrivateKey, addr net.IP, nodeID string) (sealedRecord, error) {
	legacy, err := loadLegacyMembership(stateDir)
	if err != nil {
		return sealedRecord{}, err
	}
	if legacy != nil {
		return n.foldLegacyMembership(ctx, stateDir, store, legacy, nodeID)
	}
	rec := store.get()
	if rec.member() && rec.NodeCertificate == nil {
		return sealedRecord{}, fmt.Errorf("the sealed record names a cluster but holds no node certificate, and %s is not there to take it from", legacyMembershipFile)
	}
	// A member needs no parameters (and is not held up by stale ones).
	var params *apb.NodeParameters
	if !rec.member() {
		if params, err = n.plat.Parameters(); err != nil {
			return sealedRecord{}, err
		}
	}
	how, err := decideEnrolment(enrolFacts{member: rec.member(), params: params, clusterHalf: rec.ClusterHalf != nil})
	if err != nil {
		return sealedRecord{}, err
	}
	var m *membership
	if how == enrolMember {
		return rec, nil
	}
	tpmID, ak, err := n.enrolmentTPM(ctx)
	if err != nil {
		return sealedRecord{}, err
	}
	switch how {
	case enrolBootstrap:
		n.logger(ctx).Infof("bootstrapping a new cluster")
		m, err = prepareBootstrap(stateDir, params.GetClusterBootstrap(), nodeKey, addr, rec.ClusterHalf)
	case enrolRegister:
		var t *registerTPM
		if tpmID != nil {
			t = &registerTPM{identity: tpmID, activate: n.activator(ak), quote: n.quoterFor(ak)}
		}
		m, err = register(ctx, params.GetClusterRegister(), nodeKey, joinKey, rec.ClusterHalf, addr, t)
	}
	if err != nil {
		return sealedRecord{}, err
	}
	m.AttestationKey = ak
	if err := store.update(func(r *sealedRecord) { m.record(r, nodeID) }); err != nil {
		return sealedRecord{}, err
	}
	return store.get(), nil
}

// foldLegacyMembership moves the membership file of an older release into the sealed record and
// removes it. The escrow of the cluster half stays as it is (keepClusterHalfEscrow follows the
// roles from here), and curators the sealed record already knows are kept: both files were
// written together, so they are as fresh.
func (n *Node) foldLegacyMembership(ctx context.Context, stateDir string, store *sealedStore, legacy *membership, nodeID string) (sealedRecord, error) {
	n.logger(ctx).Infof("moving %s of an older release into the sealed record", legacyMembershipFile)
	if err := store.update(func(r *sealedRecord) {
		r.NodeID, r.CACertificate, r.NodeCertificate, r.Bootstrap = nodeID, legacy.CACertificate, legacy.NodeCertificate, legacy.Bootstrap
		if len(r.Curators) == 0 {
			r.Curators = legacy.Curators
		}
	}); err != nil {
		return sealedRecord{}, err
	}
	if err := os.Remove(filepath.Join(stateDir, legacyMembershipFile)); err != nil {
		return sealedRecord{}, fmt.Errorf("remove %s after moving it into the sealed record: %w", legacyMembershipFile, err)
	}
	return store.get(), nil
}
