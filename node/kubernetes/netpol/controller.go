package netpol

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"
	cnpclient "sigs.k8s.io/network-policy-api/pkg/client/clientset/versioned"
	cnpinformers "sigs.k8s.io/network-policy-api/pkg/client/informers/externalversions"
	cnplisters "sigs.k8s.io/network-policy-api/pkg/client/listers/apis/v1beta1"

	"metropolis.dev/metropolis/osbase/supervisor"
)

// Config is what the controller needs from the node.
type Config struct {
	// Client reads Pods, Namespaces and NetworkPolicies.
	Client kubernetes.Interface
	// ClusterPolicyClient reads ClusterNetworkPolicies, the tiers around
	// NetworkPolicy. Nil leaves those tiers empty.
	ClusterPolicyClient cnpclient.Interface
	// CacheSyncTimeout bounds the wait for the first listing of the
	// objects. Default 5 minutes.
	CacheSyncTimeout time.Duration
	// APICheckInterval is how often a controller that found the
	// ClusterNetworkPolicy API not served asks again. Default 30 s.
	APICheckInterval time.Duration
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
	if cfg.CacheSyncTimeout <= 0 {
		cfg.CacheSyncTimeout = 5 * time.Minute
	}
	if cfg.APICheckInterval <= 0 {
		cfg.APICheckInterval = 30 * time.Second
	}
	return &Controller{cfg: cfg}, nil
}

// Run is the controller's supervised runnable: it watches Pods, Namespaces,
// NetworkPolicies and ClusterNetworkPolicies and replaces our table whenever
// the rules they ask for change, at most once per MinSyncInterval. It
// signals healthy after the first sync. The table stays when it returns: a
// restarted controller replaces it, and policies stay enforced in between.
//
// While the API server does not serve ClusterNetworkPolicies (the controller
// that installs their definition runs an older release, or has not started
// yet), NetworkPolicies are enforced alone, and Run returns, to be restarted
// with them, once the API is there.
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
	informers := []cache.SharedIndexInformer{pods.Informer(), namespaces.Informer(), policies.Informer()}

	informerCtx, stopInformers := context.WithCancel(ctx)
	defer stopInformers()
	served, err := c.clusterPoliciesServed()
	if err != nil {
		return err
	}
	var clusterPolicies cnplisters.ClusterNetworkPolicyLister
	var checkAPI <-chan time.Time // ticks while the API is not served
	switch {
	case served:
		cnpFactory := cnpinformers.NewSharedInformerFactory(c.cfg.ClusterPolicyClient, 0)
		inf := cnpFactory.Policy().V1beta1().ClusterNetworkPolicies()
		informers = append(informers, inf.Informer())
		clusterPolicies = inf.Lister()
		cnpFactory.Start(informerCtx.Done())
		defer cnpFactory.Shutdown()
	case c.cfg.ClusterPolicyClient != nil:
		log.Infof("The API server does not serve %s yet: enforcing NetworkPolicies alone, asking again every %v", clusterPolicyAPI, c.cfg.APICheckInterval)
		ticker := time.NewTicker(c.cfg.APICheckInterval)
		defer ticker.Stop()
		checkAPI = ticker.C
	}
	for _, inf := range informers {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("adding informer event handler: %w", err)
		}
	}
	factory.Start(informerCtx.Done())
	defer factory.Shutdown()
	// Shutdown waits for the informers, which stop only when told: this
	// runs first whenever Run returns.
	defer stopInformers()
	log.Infof("Waiting for the Pod, Namespace, NetworkPolicy and (if served) ClusterNetworkPolicy caches (node %q)...", c.cfg.NodeName)
	syncCtx, cancel := context.WithTimeout(ctx, c.cfg.CacheSyncTimeout)
	defer cancel()
	for i, inf := range informers {
		if !cache.WaitForCacheSync(syncCtx.Done(), inf.HasSynced) {
			return fmt.Errorf("the %s cache did not sync within %v (is the proxy identity allowed to list them?): %w",
				[]string{"Pod", "Namespace", "NetworkPolicy", "ClusterNetworkPolicy"}[i], c.cfg.CacheSyncTimeout, syncCtx.Err())
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
		if err == nil && clusterPolicies != nil {
			in.ClusterPolicies, err = clusterPolicies.List(labels.Everything())
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
		if err := c.waitForChange(ctx, changed, checkAPI); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.cfg.MinSyncInterval):
		}
	}
}

// waitForChange waits for the informers to report a change; while it waits,
// it asks whether the ClusterNetworkPolicy API has appeared whenever
// checkAPI ticks, and returns an error to be restarted with it if so.
func (c *Controller) waitForChange(ctx context.Context, changed <-chan struct{}, checkAPI <-chan time.Time) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
			return nil
		case <-checkAPI:
			served, err := c.clusterPoliciesServed()
			switch {
			case err != nil:
				supervisor.Logger(ctx).Warningf("%v", err)
			case served:
				return fmt.Errorf("the API server serves %s now: restarting to enforce them", clusterPolicyAPI)
			}
		}
	}
}

// clusterPolicyAPI is the group and version of ClusterNetworkPolicy this
// controller reads.
var clusterPolicyAPI = cnpv1beta1.GroupVersion.String()

// clusterPoliciesServed asks the API server whether it serves
// ClusterNetworkPolicies.
func (c *Controller) clusterPoliciesServed() (bool, error) {
	if c.cfg.ClusterPolicyClient == nil {
		return false, nil
	}
	list, err := c.cfg.Client.Discovery().ServerResourcesForGroupVersion(clusterPolicyAPI)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("asking whether the API server serves %s: %w", clusterPolicyAPI, err)
	}
	return slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == "clusternetworkpolicies" }), nil
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
