package clusterdns

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Index names of the informers' caches (besides cache.NamespaceIndex, which the informers
// have already).
const (
	indexByService = "service" // EndpointSlices by <ns>/<service name>
	indexByAddr    = "addr"    // Services by ClusterIP, EndpointSlices by endpoint address
)

// catalog is what the answers are made from: the informers' caches of Services and
// EndpointSlices, read at each query (the caches do their own locking, and a query is a few
// map look-ups).
type catalog struct {
	services cache.Indexer
	slices   cache.Indexer
}

// startCatalog starts the informers of client and waits until their caches are synced or ctx
// ends. The informers stop when ctx ends. They are built from tools/cache directly rather than
// through client-go's informers package, whose factory links informers and listers of every
// API group into the binary (about 4 MB we would never use).
func startCatalog(ctx context.Context, client kubernetes.Interface) (*catalog, error) {
	services := newInformer(client, &corev1.Service{}, cache.Indexers{
		cache.NamespaceIndex: cache.MetaNamespaceIndexFunc,
		indexByAddr:          serviceAddrs,
	}, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return client.CoreV1().Services("").List(ctx, o)
	}, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return client.CoreV1().Services("").Watch(ctx, o)
	})
	slices := newInformer(client, &discoveryv1.EndpointSlice{}, cache.Indexers{
		indexByService: sliceService,
		indexByAddr:    sliceAddrs,
	}, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return client.DiscoveryV1().EndpointSlices("").List(ctx, o)
	}, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return client.DiscoveryV1().EndpointSlices("").Watch(ctx, o)
	})
	for _, inf := range []cache.SharedIndexInformer{services, slices} {
		if err := inf.SetTransform(stripManagedFields); err != nil {
			return nil, fmt.Errorf("setting informer transform: %w", err)
		}
		go inf.RunWithContext(ctx)
	}
	if !cache.WaitForCacheSync(ctx.Done(), services.HasSynced, slices.HasSynced) {
		return nil, fmt.Errorf("waiting for the Service and EndpointSlice caches: %w", context.Cause(ctx))
	}
	return &catalog{services: services.GetIndexer(), slices: slices.GetIndexer()}, nil
}

// newInformer is what client-go's generated informers do: the client is passed along so that
// the reflector knows whether it may use streaming lists (the fake clientset may not).
func newInformer(client kubernetes.Interface, example runtime.Object, indexers cache.Indexers,
	list cache.ListWithContextFunc, watchFunc cache.WatchFuncWithContext) cache.SharedIndexInformer {
	lw := cache.ToListWatcherWithWatchListSemantics(
		&cache.ListWatch{ListWithContextFunc: list, WatchFuncWithContext: watchFunc}, client)
	return cache.NewSharedIndexInformerWithOptions(lw, example, cache.SharedIndexInformerOptions{Indexers: indexers})
}

// stripManagedFields drops what the answers never read, so the caches stay small.
func stripManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
		m.SetAnnotations(nil)
	}
	return obj, nil
}

func serviceAddrs(obj any) ([]string, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, nil
	}
	var keys []string
	for _, ip := range clusterIPs(svc) {
		keys = append(keys, ip.String())
	}
	return keys, nil
}

func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
}

func sliceAddrs(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	var keys []string
	for _, ep := range s.Endpoints {
		for _, a := range ep.Addresses {
			if ip, err := netip.ParseAddr(a); err == nil {
				keys = append(keys, ip.Unmap().String())
			}
		}
	}
	return keys, nil
}

// service returns the Service ns/name, if it exists.
func (c *catalog) service(ns, name string) (*corev1.Service, bool) {
	obj, ok, err := c.services.GetByKey(ns + "/" + name)
	if err != nil || !ok {
		return nil, false
	}
	svc, ok := obj.(*corev1.Service)
	return svc, ok
}

// namespaceHasServices reports whether any Service exists in ns: <ns>.svc.<domain> exists
// exactly then.
func (c *catalog) namespaceHasServices(ns string) bool {
	keys, err := c.services.IndexKeys(cache.NamespaceIndex, ns)
	return err == nil && len(keys) > 0
}

// endpointSlices returns the EndpointSlices of the Service ns/name.
func (c *catalog) endpointSlices(ns, name string) []*discoveryv1.EndpointSlice {
	objs, err := c.slices.ByIndex(indexByService, ns+"/"+name)
	if err != nil {
		return nil
	}
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			out = append(out, s)
		}
	}
	return out
}

// servicesByAddr returns the Services with ClusterIP a.
func (c *catalog) servicesByAddr(a netip.Addr) []*corev1.Service {
	objs, _ := c.services.ByIndex(indexByAddr, a.String())
	var out []*corev1.Service
	for _, o := range objs {
		if svc, ok := o.(*corev1.Service); ok {
			out = append(out, svc)
		}
	}
	return out
}

// slicesByAddr returns the EndpointSlices with an endpoint at a.
func (c *catalog) slicesByAddr(a netip.Addr) []*discoveryv1.EndpointSlice {
	objs, _ := c.slices.ByIndex(indexByAddr, a.String())
	var out []*discoveryv1.EndpointSlice
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			out = append(out, s)
		}
	}
	return out
}
