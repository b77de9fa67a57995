package svcproxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"metropolis.dev/metropolis/node/kubernetes/internal/nftconn"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Config is what the proxy needs from the node.
type Config struct {
	// Client reads Services and EndpointSlices.
	Client kubernetes.Interface
	// NodeName is this node's Kubernetes name, for logs (topology-aware
	// routing, which would need it, is not done).
	NodeName string
	// ClusterCIDRs are the pod networks. Service traffic from any other
	// source is masqueraded. Optional.
	ClusterCIDRs []netip.Prefix
	// NetNS is a file descriptor of the network namespace to program;
	// 0 means the node program's own.
	NetNS int
	// MinSyncInterval is the least time between two syncs, so that a
	// burst of API events becomes one batch. Default 200 ms.
	MinSyncInterval time.Duration
}

// Proxy keeps the kernel's service rules in line with the API.
type Proxy struct {
	cfg Config
}

// New checks cfg and returns a Proxy; it touches neither the API nor the
// kernel until Run.
func New(cfg Config) (*Proxy, error) {
	if cfg.Client == nil {
		return nil, errors.New("svcproxy: Config.Client is nil")
	}
	for _, c := range cfg.ClusterCIDRs {
		if !c.IsValid() {
			return nil, fmt.Errorf("svcproxy: invalid cluster CIDR %v", c)
		}
	}
	if cfg.MinSyncInterval <= 0 {
		cfg.MinSyncInterval = 200 * time.Millisecond
	}
	return &Proxy{cfg: cfg}, nil
}

// Run is the proxy's supervised runnable: it watches Services and
// EndpointSlices and replaces our tables whenever what they ask for
// changes, at most once per MinSyncInterval. It signals healthy after the
// first sync. The tables stay when it returns: a restarted proxy replaces
// them, and services keep working in between.
func (p *Proxy) Run(ctx context.Context) error {
	log := supervisor.Logger(ctx)
	conn, err := nftconn.Open(p.cfg.NetNS)
	if err != nil {
		return err
	}
	defer conn.CloseLasting()

	factory := informers.NewSharedInformerFactory(p.cfg.Client, 0)
	services := factory.Core().V1().Services()
	slices := factory.Discovery().V1().EndpointSlices()
	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    poke,
		UpdateFunc: func(_, o any) { poke(o) },
		DeleteFunc: poke,
	}
	for _, inf := range []cache.SharedIndexInformer{services.Informer(), slices.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("adding informer event handler: %w", err)
		}
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	log.Infof("Waiting for the Service and EndpointSlice caches (node %q)...", p.cfg.NodeName)
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache of %v did not sync: %w", typ, ctx.Err())
		}
	}

	var applied []ServicePort
	for first := true; ; first = false {
		// Events up to here are in the listers' view.
		select {
		case <-changed:
		default:
		}
		svcs, err := services.Lister().List(labels.Everything())
		if err != nil {
			return fmt.Errorf("listing services: %w", err)
		}
		eps, err := slices.Lister().List(labels.Everything())
		if err != nil {
			return fmt.Errorf("listing endpoint slices: %w", err)
		}
		want := Desired(svcs, eps)
		if first || !reflect.DeepEqual(want, applied) {
			start := time.Now()
			if err := Apply(conn, want, p.cfg.ClusterCIDRs); err != nil {
				return err
			}
			log.Infof("Synced %d service ports (%d endpoints) in %v", len(want), countEndpoints(want), time.Since(start).Round(time.Millisecond))
			// After the new rules are in, so that no new entry to a
			// removed endpoint appears behind our back.
			if n, err := deleteConntrack(p.cfg.NetNS, staleUDP(applied, want)); err != nil {
				log.Warningf("%v (%d deleted)", err, n)
			} else if n > 0 {
				log.Infof("Deleted %d conntrack entries of removed UDP endpoints", n)
			}
			applied = want
		}
		if first {
			supervisor.Signal(ctx, supervisor.SignalHealthy)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.cfg.MinSyncInterval):
		}
	}
}

func countEndpoints(ports []ServicePort) int {
	n := 0
	for _, p := range ports {
		n += len(p.Endpoints)
	}
	return n
}
