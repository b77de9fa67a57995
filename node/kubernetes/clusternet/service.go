package clusternet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// resyncInterval is how often the kernel state is checked again without
// an API event, so that a route someone removed comes back.
const resyncInterval = time.Minute

// Run is the service's supervised runnable. It sets up pod egress, then
// follows the Nodes: it writes the CNI configuration once this node has a
// pod subnet (and signals healthy then), and keeps routes (and WireGuard
// peers) to the other nodes' pods. What it set up stays when it returns: a
// restarted Run takes it over, and pods keep working in between.
func (s *Service) Run(ctx context.Context) error {
	log := supervisor.Logger(ctx)
	h, err := openNetlink(s.cfg.NetNS)
	if err != nil {
		return err
	}
	defer h.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(s.cfg.NetNS), nftables.AsLasting())
	if err != nil {
		return fmt.Errorf("opening nftables netlink connection: %w", err)
	}
	defer conn.CloseLasting()
	if err := enableForwarding(s.cfg.NetNS); err != nil {
		return err
	}
	if err := applyMasquerade(conn, s.podRange); err != nil {
		return err
	}
	log.Infof("Pod egress: masquerading %v to outside it (table ip %s)", s.podRange, TableName)

	factory := informers.NewSharedInformerFactory(s.cfg.Client, 0)
	nodes := factory.Core().V1().Nodes()
	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    poke,
		UpdateFunc: func(_, o any) { poke(o) },
		DeleteFunc: poke,
	}); err != nil {
		return fmt.Errorf("adding Node informer event handler: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	log.Infof("Waiting for the Node cache (node %q)...", s.cfg.NodeName)
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache of %v did not sync: %w", typ, ctx.Err())
		}
	}

	r := &reconciler{Service: s, log: log, h: h, lister: nodes.Lister()}
	defer r.close()
	resync := time.NewTicker(resyncInterval)
	defer resync.Stop()
	for {
		select {
		case <-changed:
		default:
		}
		if err := r.sync(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-resync.C:
		}
	}
}

func openNetlink(fd int) (*netlink.Handle, error) {
	var h *netlink.Handle
	var err error
	// Route netlink only: with no family named, netlink opens every family it knows, and fails
	// on a kernel without one of them (the image has no xfrm).
	if fd == 0 {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandleAt(netns.NsHandle(fd), unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("opening rtnetlink handle: %w", err)
	}
	return h, nil
}

// reconciler is one Run's state between syncs.
type reconciler struct {
	*Service
	log    logtree.LeveledLogger
	h      *netlink.Handle
	lister listersv1.NodeLister
	wg     *wgctrl.Client

	waitingLogged bool
	healthy       bool
	lastSkipped   []Skipped
	// patchedFrom is the annotation as the cache showed it when we last
	// patched it, so that a cache that has not seen our patch yet does not
	// make us patch again.
	patchedFrom *string
}

func (r *reconciler) close() {
	if r.wg != nil {
		r.wg.Close()
	}
}

// sync brings the CNI configuration, tunnel and routes in line with the
// Nodes as the cache has them.
func (r *reconciler) sync(ctx context.Context) error {
	self, err := r.lister.Get(r.cfg.NodeName)
	if apierrors.IsNotFound(err) {
		r.waiting(fmt.Sprintf("no Node %q yet", r.cfg.NodeName))
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting Node %q from the cache: %w", r.cfg.NodeName, err)
	}
	own, err := NodePodCIDR(self)
	if err != nil {
		r.waiting(err.Error())
		return nil
	}
	if !r.podRange.Contains(own.Addr()) || own.Bits() < r.podRange.Bits() {
		return fmt.Errorf("node %q's pod subnet %v is outside the cluster's pod range %v", r.cfg.NodeName, own, r.podRange)
	}
	if err := r.writeConfList(ctx, own); err != nil {
		return err
	}

	tunnel, tunnelIndex, err := r.syncTunnel(own)
	if err != nil {
		return err
	}
	if err := r.publishKey(ctx, self, tunnel); err != nil {
		return err
	}
	all, err := r.lister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing Nodes from the cache: %w", err)
	}
	peers, skipped := DesiredPeers(all, r.cfg.NodeName, own, r.podRange, tunnel)
	if !reflect.DeepEqual(skipped, r.lastSkipped) {
		for _, sk := range skipped {
			r.log.Warningf("Not routing to node %q: %s", sk.Node, sk.Reason)
		}
		r.lastSkipped = skipped
	}
	if tunnel {
		if err := configureTunnel(r.wg, r.key, r.cfg.ListenPort, peers); err != nil {
			return err
		}
	}
	current, err := currentRoutes(r.h, tunnelIndex)
	if err != nil {
		return err
	}
	replace, remove := diffRoutes(current, desiredRoutes(peers, tunnel, gateway(own)))
	if err := applyRoutes(r.h, replace, remove, tunnelIndex); err != nil {
		return err
	}
	for _, rt := range replace {
		r.log.Infof("Route %v", rt)
	}
	for _, rt := range remove {
		r.log.Infof("Removed route %v", rt)
	}
	st := Status{PodCIDR: own, WireGuard: tunnel, Peers: len(peers)}
	if r.cfg.WireGuard && !tunnel {
		st.WireGuardFallback = r.fallback
	}
	r.status.Set(st)
	return nil
}

func (r *reconciler) waiting(why string) {
	if !r.waitingLogged {
		r.log.Infof("Waiting for this node's pod subnet: %s", why)
		r.waitingLogged = true
	}
}

// gateway is the pod gateway address of a node's pod subnet: its first
// address, which host-local keeps back and ptp puts on the host side.
func gateway(podCIDR netip.Prefix) netip.Addr { return podCIDR.Masked().Addr().Next() }

func (r *reconciler) writeConfList(ctx context.Context, own netip.Prefix) error {
	content, err := ConfList(own, r.cfg.MTU, r.cfg.CNIDataDir)
	if err != nil {
		return err
	}
	path := filepath.Join(r.cfg.CNIConfDir, ConfListName)
	wrote, err := writeIfChanged(path, content)
	if err != nil {
		return fmt.Errorf("writing CNI configuration: %w", err)
	}
	if wrote {
		r.log.Infof("Wrote %s for pod subnet %v (MTU %d)", path, own, r.cfg.MTU)
	}
	if !r.healthy {
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		r.healthy = true
	}
	return nil
}

// syncTunnel sets up the WireGuard interface if asked for and possible. It
// returns whether pod traffic goes over it, and its link index.
func (r *reconciler) syncTunnel(own netip.Prefix) (bool, int, error) {
	if !r.cfg.WireGuard || r.fallback != "" {
		return false, 0, nil
	}
	link, err := ensureTunnel(r.h, r.cfg.MTU)
	if wireGuardMissing(err) {
		r.fallback = err.Error()
		r.log.Warningf("WireGuard asked for but unavailable, pod traffic to other nodes goes unencrypted over plain routes: %v", err)
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	if err := setOnlyAddress(r.h, link, gateway(own)); err != nil {
		return false, 0, err
	}
	if r.wg == nil {
		err := inNetNS(r.cfg.NetNS, func() (err error) {
			r.wg, err = wgctrl.New()
			return err
		})
		if err != nil {
			return false, 0, fmt.Errorf("opening WireGuard control: %w", err)
		}
	}
	return true, link.Attrs().Index, nil
}

// publishKey puts our public key in our Node's annotation when it is not
// there, or removes a stale key when WireGuard is not used after all.
func (r *reconciler) publishKey(ctx context.Context, self *corev1.Node, tunnel bool) error {
	if !r.cfg.WireGuard {
		return nil
	}
	have, present := self.Annotations[AnnotationWireGuardKey]
	if !present {
		have = "\x00absent"
	}
	if r.patchedFrom != nil && *r.patchedFrom == have {
		return nil
	}
	var value any
	switch {
	case tunnel && have != r.key.PublicKey().String():
		value = r.key.PublicKey().String()
	case !tunnel && present:
		value = nil // JSON null removes the annotation.
	default:
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{AnnotationWireGuardKey: value}}})
	if err != nil {
		return err
	}
	if _, err := r.cfg.NodeClient.CoreV1().Nodes().Patch(ctx, r.cfg.NodeName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patching Node %q annotation %s: %w", r.cfg.NodeName, AnnotationWireGuardKey, err)
	}
	r.patchedFrom = &have
	if value == nil {
		r.log.Infof("Removed our stale WireGuard key from Node %q", r.cfg.NodeName)
	} else {
		r.log.Infof("Published our WireGuard key %s on Node %q", value, r.cfg.NodeName)
	}
	return nil
}
