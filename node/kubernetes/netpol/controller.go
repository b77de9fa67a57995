package netpol

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"metropolis.dev/metropolis/osbase/supervisor"
)

// Config is what the controller needs from the node.
type Config struct {
	// Client reads Pods, Namespaces and NetworkPolicies.
	Client kubernetes.Interface
	// NodeName is this node's Kubernetes name: rules are made for its pods.
	NodeName string
	// ExtraPeers are selected like pods though no Pod stands for them
	// (ClusterDNSPeer).
	ExtraPeers []Peer
	// NetNS is a file descriptor of the network namespace to program; 0
	// means the node program's own.
	NetNS int
	// MinSyncInterval is the least time between two syncs, so that a burst
	// of API events becomes one batch. Default 200 ms.
	MinSyncInterval time.Duration
}

// Controller keeps the kernel's NetworkPolicy rules in line with the API.
type Controller struct {
	cfg Config
}

// New checks cfg and returns a Controller; it touches neither the API nor
// the kernel until Run.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("netpol: Config.Client is nil")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("netpol: Config.NodeName is empty")
	}
	if cfg.MinSyncInterval <= 0 {
		cfg.MinSyncInterval = 200 * time.Millisecond
	}
	return &Controller{cfg: cfg}, nil
}

// Run is the controller's supervised runnable: it watches Pods, Namespaces
// and NetworkPolicies and replaces our table whenever the rules they ask for
// change, at most once per MinSyncInterval. It signals healthy after the
// first sync. The table stays when it returns: a restarted controller
// replaces it, and policies stay enforced in between.
func (c *Controller) Run(ctx context.Context) error {
	log := supervisor.Logger(ctx)
	conn, err := OpenConn(c.cfg.NetNS)
	if err != nil {
		return err
	}
	defer conn.CloseLasting()

	factory := informers.NewSharedInformerFactory(c.cfg.Client, 0)
	pods := factory.Core().V1().Pods()
	namespaces := factory.Core().V1().Namespaces()
	policies := factory.Networking().V1().NetworkPolicies()
	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{AddFunc: poke, UpdateFunc: func(_, o any) { poke(o) }, DeleteFunc: poke}
	for _, inf := range []cache.SharedIndexInformer{pods.Informer(), namespaces.Informer(), policies.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("adding informer event handler: %w", err)
		}
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	log.Infof("Waiting for the Pod, Namespace and NetworkPolicy caches (node %q)...", c.cfg.NodeName)
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache of %v did not sync: %w", typ, ctx.Err())
		}
	}

	// A restarted controller must not reuse the generation an earlier one
	// last applied, or connections judged under older rules would pass
	// unjudged.
	generation := uint16(rand.UintN(1<<16-1)) + 1
	var applied []Rules
	var reported []string
	for first := true; ; first = false {
		select {
		case <-changed:
		default:
		}
		in := Input{NodeName: c.cfg.NodeName, ExtraPeers: c.cfg.ExtraPeers}
		if in.Pods, err = pods.Lister().List(labels.Everything()); err == nil {
			if in.Namespaces, err = namespaces.Lister().List(labels.Everything()); err == nil {
				in.Policies, err = policies.Lister().List(labels.Everything())
			}
		}
		if err != nil {
			return fmt.Errorf("listing from the informer caches: %w", err)
		}
		want, problems := Desired(in)
		if !slices.Equal(problems, reported) {
			for _, p := range problems {
				log.Warningf("%s", p)
			}
			reported = problems
		}
		if first || !reflect.DeepEqual(want, applied) {
			start := time.Now()
			if err := Apply(conn, want, generation); err != nil {
				return err
			}
			in, out, elems := countRules(want)
			log.Infof("Synced NetworkPolicy rules of %d local pods (%d isolated for ingress, %d for egress; %d allow elements) in %v",
				len(want), in, out, elems, time.Since(start).Round(time.Millisecond))
			applied = want
			if generation++; generation == 0 {
				generation = 1
			}
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
		case <-time.After(c.cfg.MinSyncInterval):
		}
	}
}

func countRules(rules []Rules) (ingress, egress, elements int) {
	for _, r := range rules {
		if r.IngressIsolated {
			ingress++
		}
		if r.EgressIsolated {
			egress++
		}
		elements += len(r.Ingress) + len(r.Egress)
	}
	return ingress, egress, elements
}
