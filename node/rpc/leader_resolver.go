package rpc

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/resolver"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

// leaderScheme is the resolver scheme of DialCurator's connections. The resolver is private to
// each connection (grpc.WithResolvers), never registered globally.
const leaderScheme = "metropolis-curator-leader"

const (
	// leaderQuietTimeout is how long a Discovery stream may stay silent before the resolver
	// tries the next address: at the start of a stream (a curator that knows no leader, e.g.
	// one cut off from etcd), and after gRPC reported the current leader unreachable. Longer
	// than an election takes (a few seconds of lease expiry), so a healthy follower that is
	// about to name the new leader is not abandoned.
	leaderQuietTimeout = 15 * time.Second
	// resolverBackoffMin and resolverBackoffMax bound the pause after every address failed.
	resolverBackoffMin = 100 * time.Millisecond
	resolverBackoffMax = 5 * time.Second
)

type leaderResolverBuilder struct {
	addrs *CuratorAddresses
	// built is the connection's resolver once gRPC built it, for notLeader.
	built atomic.Pointer[leaderResolver]
}

// notLeader is the connection's calls telling the resolver that the address it gave did not
// serve as the leader (a call ended with codes.Unavailable): the same hint as gRPC's
// ResolveNow after a transport failure. Without it, a curator whose Discovery stream keeps
// naming a former leader (its own etcd member was removed and it no longer learns who leads)
// would hold the connection on a curator that refuses every call, because that curator is
// reachable and its stream stays open.
func (b *leaderResolverBuilder) notLeader() {
	if r := b.built.Load(); r != nil {
		r.ResolveNow(resolver.ResolveNowOptions{})
	}
}

func (b *leaderResolverBuilder) Scheme() string { return leaderScheme }

func (b *leaderResolverBuilder) Build(_ resolver.Target, cc resolver.ClientConn, opts resolver.BuildOptions) (resolver.Resolver, error) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &leaderResolver{
		cc:     cc,
		creds:  opts.DialCreds,
		addrs:  b.addrs,
		kick:   make(chan struct{}, 1),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	b.built.Store(r)
	go r.run(ctx)
	return r, nil
}

// leaderResolver tells its connection where the curator leader is, from a
// Discovery.GetCurrentLeader stream on one of the known curator addresses at a time.
type leaderResolver struct {
	cc     resolver.ClientConn
	creds  credentials.TransportCredentials
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	// addrs are the addresses given to DialCurator(At), shared with whoever keeps them up to
	// date, plus every leader address learned since, so that the resolver can still ask the
	// cluster after the given addresses went away.
	addrs *CuratorAddresses
}

// ResolveNow is gRPC's hint that the current address failed. The Discovery stream will name a
// new leader by itself once one is elected; the hint only starts the quiet timeout, so that a
// stream that never does is given up.
func (r *leaderResolver) ResolveNow(resolver.ResolveNowOptions) {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *leaderResolver) Close() {
	r.cancel()
	<-r.done
}

func (r *leaderResolver) endpoint(i int) (string, int) {
	list := r.addrs.List()
	return list[i%len(list)], len(list)
}

func (r *leaderResolver) learn(ep string) { r.addrs.Add(ep) }

// run tries the known addresses in turn, pausing after a round in which none named a leader.
func (r *leaderResolver) run(ctx context.Context) {
	defer close(r.done)
	backoff := resolverBackoffMin
	failedInRound := 0
	for i := 0; ctx.Err() == nil; i++ {
		ep, n := r.endpoint(i)
		named, err := r.follow(ctx, ep)
		if ctx.Err() != nil {
			return
		}
		if named {
			failedInRound, backoff = 0, resolverBackoffMin
			continue
		}
		failedInRound++
		if failedInRound < n {
			continue
		}
		// Callers waiting for a leader keep waiting (WaitForReady); the error shows in gRPC's
		// logs and in fail-fast calls.
		r.cc.ReportError(fmt.Errorf("no curator at %d known addresses named a leader; last: %w", n, err))
		failedInRound = 0
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, resolverBackoffMax)
	}
}

// follow streams the leader from the curator at ep into the connection until the stream fails
// or stays quiet for too long. It reports whether ep named a leader at all.
func (r *leaderResolver) follow(ctx context.Context, ep string) (named bool, err error) {
	conn, err := grpc.NewClient("passthrough:///"+ep, grpc.WithTransportCredentials(r.creds), clientKeepalive())
	if err != nil {
		return false, fmt.Errorf("curator at %s: %w", ep, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	quiet := time.AfterFunc(leaderQuietTimeout, cancel)
	defer quiet.Stop()
	// armed says the quiet timer runs. A hint arms it only if it is not running already:
	// calls that keep failing keep hinting, and must not push the deadline away.
	var armed atomic.Bool
	armed.Store(true)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-r.kick:
				if !armed.Swap(true) {
					quiet.Reset(leaderQuietTimeout)
				}
			}
		}
	}()

	stream, err := apb.NewDiscoveryClient(conn).GetCurrentLeader(ctx, &apb.GetCurrentLeaderRequest{})
	if err != nil {
		return false, fmt.Errorf("curator at %s: %w", ep, err)
	}
	var current resolver.Address
	for {
		resp, err := stream.Recv()
		if err != nil {
			return named, fmt.Errorf("curator at %s: leader stream: %w", ep, err)
		}
		quiet.Stop()
		armed.Store(false)
		addr, err := leaderAddress(resp, ep)
		if err != nil {
			return named, fmt.Errorf("curator at %s: %w", ep, err)
		}
		named = true
		if addr == current {
			continue
		}
		current = addr
		r.learn(addr.Addr)
		// A watch-based resolver can ignore UpdateState's error: re-resolving would give the same.
		_ = r.cc.UpdateState(resolver.State{Addresses: []resolver.Address{addr}})
	}
}

// leaderAddress turns a Discovery answer from the curator at ep into the address to dial. The
// node ID becomes the TLS server name, so that clientTLSConfig insists on that node's
// certificate: a curator that names a wrong leader cannot redirect the caller to anything but
// a node of the cluster it named. A curator that names itself is dialed where it was reached,
// so that an endpoint behind port forwarding or NAT keeps working.
func leaderAddress(resp *apb.GetCurrentLeaderResponse, ep string) (resolver.Address, error) {
	if err := identity.ValidateNodeID(resp.GetLeaderNodeId()); err != nil {
		return resolver.Address{}, fmt.Errorf("leader_node_id: %w", err)
	}
	if resp.GetThisNodeId() == resp.GetLeaderNodeId() {
		return resolver.Address{Addr: ep, ServerName: resp.GetLeaderNodeId()}, nil
	}
	if err := checkEndpoint(resp.GetLeaderAddress()); err != nil {
		return resolver.Address{}, fmt.Errorf("leader_address: %w", err)
	}
	return resolver.Address{Addr: resp.GetLeaderAddress(), ServerName: resp.GetLeaderNodeId()}, nil
}

// Leader is the curator leader at one moment.
type Leader struct {
	NodeID string
	// Address is its curator's address as it reports it (host:port).
	Address string
}

// CurrentLeader asks the curator conn reaches (DialCluster) which curator leads now, waiting
// until one is elected or ctx ends, and checks the answer as DialCurator's resolver does. It
// is for callers that need to know who leads at one moment (a benchmark about to stop the
// leader); a client that calls the leader uses DialCurator, which keeps following it.
func CurrentLeader(ctx context.Context, conn *grpc.ClientConn) (Leader, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := apb.NewDiscoveryClient(conn).GetCurrentLeader(ctx, &apb.GetCurrentLeaderRequest{})
	if err != nil {
		return Leader{}, fmt.Errorf("ask for the curator leader: %w", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		return Leader{}, fmt.Errorf("ask for the curator leader: %w", err)
	}
	if err := identity.ValidateNodeID(resp.GetLeaderNodeId()); err != nil {
		return Leader{}, fmt.Errorf("curator leader: leader_node_id: %w", err)
	}
	if err := checkEndpoint(resp.GetLeaderAddress()); err != nil {
		return Leader{}, fmt.Errorf("curator leader: leader_address: %w", err)
	}
	return Leader{NodeID: resp.GetLeaderNodeId(), Address: resp.GetLeaderAddress()}, nil
}
