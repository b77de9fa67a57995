// Package provision runs, on every worker, the Kubernetes side of the worker's local volumes
// (node/kubernetes/localvolume): it turns claims scheduled to this node into volumes and
// PersistentVolumes, deletes them when released, and tells the scheduler how much room the node
// has left.
//
// Provisioning and capacity are upstream's external-provisioner (kubernetes-csi), built in as a
// library and run as its "node deployment": each worker's instance takes only the claims the
// scheduler put on its node (WaitForFirstConsumer), and publishes one CSIStorageCapacity
// object per StorageClass for its node's topology segment. Those objects are owned by the
// node's Kubernetes Node, so they go when the node is deleted from the cluster.
package provision

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/kubernetes-csi/external-provisioner/v6/pkg/capacity"
	"github.com/kubernetes-csi/external-provisioner/v6/pkg/capacity/topology"
	ctrl "github.com/kubernetes-csi/external-provisioner/v6/pkg/controller"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	csitrans "k8s.io/csi-translation-lib"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"

	"metropolis.dev/metropolis/osbase/supervisor"
)

// Config is what the provisioning loops need.
type Config struct {
	// Client acts as the worker's proxy identity, which the controllers grant the local
	// volumes role (node/kubernetes: admin.go).
	Client kubernetes.Interface
	// NodeName is this worker's Kubernetes Node.
	NodeName string
	// Driver is a connection to this node's driver socket.
	Driver *grpc.ClientConn
	// Namespace holds the CSIStorageCapacity objects.
	Namespace string
}

// Timing: each CSI call may take this long (formatting a large volume under emulation takes
// a while); capacity is read again at this interval besides after every change.
const (
	callTimeout      = 5 * time.Minute
	capacityInterval = time.Minute
	retryStart       = time.Second
	retryMax         = 5 * time.Minute
)

// Run provisions and deletes this node's volumes and keeps its capacity objects until ctx
// ends.
func Run(ctx context.Context, cfg Config) error {
	logger := supervisor.Logger(ctx)
	if err := ctrl.Probe(ctx, cfg.Driver, 10*time.Second); err != nil {
		return fmt.Errorf("local volumes: probe the driver: %w", err)
	}
	name, err := ctrl.GetDriverName(cfg.Driver, callTimeout)
	if err != nil {
		return fmt.Errorf("local volumes: driver name: %w", err)
	}
	pluginCaps, controllerCaps, err := ctrl.GetDriverCapabilities(cfg.Driver, callTimeout)
	if err != nil {
		return fmt.Errorf("local volumes: driver capabilities: %w", err)
	}
	nodeInfo, err := ctrl.GetNodeInfo(cfg.Driver, callTimeout)
	if err != nil {
		return fmt.Errorf("local volumes: driver node info: %w", err)
	}
	owner, err := nodeOwner(ctx, cfg)
	if err != nil {
		return err
	}
	// A Node deleted and registered again has a new UID: capacity objects owned by the old
	// one would be garbage-collected as soon as they are made. Start over with the new owner.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go followOwner(ctx, cfg, owner, ownerCheckInterval, cancel)

	factory := informers.NewSharedInformerFactory(cfg.Client, ctrl.ResyncPeriodOfCsiNodeInformer)
	claims := factory.Core().V1().PersistentVolumeClaims()
	nodeDeployment := &ctrl.NodeDeployment{
		NodeName:      cfg.NodeName,
		ClaimInformer: claims,
		NodeInfo:      nodeInfo,
		// Local volumes are made where their pod is scheduled: claims binding immediately
		// have no node yet, and would land on whichever worker took them first.
		ImmediateBinding: false,
	}
	csiNodes, nodes := staticTopology(cfg.Client, name, nodeInfo, cfg.NodeName)
	var provisioner controller.Provisioner = ctrl.NewCSIProvisioner(
		cfg.Client, callTimeout, "metropolis-"+cfg.NodeName, "pvc", -1, cfg.Driver, nil, name,
		pluginCaps, controllerCaps, "", true, false, csitrans.New(),
		factory.Storage().V1().StorageClasses().Lister(), csiNodes, nodes, claims.Lister(), nil, nil,
		false, "ext4", nodeDeployment, false, true, ctrl.NewInMemoryStore(),
	)

	// Capacity, for this node's segment alone.
	var segment topology.Segment
	for key, value := range nodeInfo.GetAccessibleTopology().GetSegments() {
		segment = append(segment, topology.SegmentEntry{Key: key, Value: value})
	}
	managedBy := "metropolis-" + cfg.NodeName
	if len(managedBy) > 63 {
		managedBy = managedBy[:63]
	}
	nsFactory := informers.NewSharedInformerFactoryWithOptions(cfg.Client, ctrl.ResyncPeriodOfCsiNodeInformer,
		informers.WithNamespace(cfg.Namespace),
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.LabelSelector = labels.Set{capacity.DriverNameLabel: name, capacity.ManagedByLabel: managedBy}.AsSelector().String()
		}),
	)
	segments := topology.NewFixedNodeTopology(&segment)
	capacities := capacity.NewCentralCapacityController(
		csi.NewControllerClient(cfg.Driver), name, capacity.NewV1ClientFactory(cfg.Client),
		workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[capacity.QueueKey](retryStart, retryMax),
			workqueue.TypedRateLimitingQueueConfig[capacity.QueueKey]{Name: "csistoragecapacity"}),
		owner, managedBy, cfg.Namespace, segments,
		factory.Storage().V1().StorageClasses(), nsFactory.Storage().V1().CSIStorageCapacities(),
		capacityInterval, false, callTimeout,
	)
	provisioner = capacity.NewProvisionWrapper(provisioner, capacities)

	provisioning := controller.NewProvisionController(ctx, cfg.Client, name, provisioner,
		controller.LeaderElection(false),
		controller.FailedProvisionThreshold(0),
		controller.FailedDeleteThreshold(0),
		controller.RateLimiter(workqueue.NewTypedItemExponentialFailureRateLimiter[string](retryStart, retryMax)),
		controller.Threadiness(2),
		controller.CreateProvisionedPVLimiter(workqueue.DefaultTypedControllerRateLimiter[string]()),
		controller.ClaimsInformer(claims.Informer()),
		controller.RetryIntervalMax(retryMax),
		controller.AddFinalizer(true),
	)

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cfg.Client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	volumes := factory.Core().V1().PersistentVolumes().Lister()
	resize := &resizer{
		client: cfg.Client, driver: name, node: cfg.NodeName,
		expand: csiExpand(csi.NewControllerClient(cfg.Driver)),
		claims: func(namespace, name string) (*corev1.PersistentVolumeClaim, error) {
			pvc, err := claims.Lister().PersistentVolumeClaims(namespace).Get(name)
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return pvc, err
		},
		volumes: func(name string) (*corev1.PersistentVolume, error) {
			pv, err := volumes.Get(name)
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return pv, err
		},
		recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "metropolis-local-volumes", Host: cfg.NodeName}),
	}
	resizeDone := make(chan error, 1)
	go func() { resizeDone <- runResizer(ctx, resize, claims.Informer(), logger.Warningf) }()

	factory.Start(ctx.Done())
	nsFactory.Start(ctx.Done())
	go segments.RunWorker(ctx)
	for informer, synced := range factory.WaitForCacheSync(ctx.Done()) {
		if !synced {
			return fmt.Errorf("local volumes: %v never synced: %w", informer, ctx.Err())
		}
	}
	logger.Infof("local volumes of driver %s: provisioning for node %s, capacity in %s", name, cfg.NodeName, cfg.Namespace)
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		capacities.Run(ctx, 1, &wg)
	}()
	provisioning.Run(ctx)
	wg.Wait()
	<-resizeDone
	return context.Cause(ctx)
}

// nodeOwner is the owner reference of this node's capacity objects: its Node, which the
// kubelet registers. It waits for the Node, saying so.
func nodeOwner(ctx context.Context, cfg Config) (*metav1.OwnerReference, error) {
	for {
		node, err := cfg.Client.CoreV1().Nodes().Get(ctx, cfg.NodeName, metav1.GetOptions{})
		if err == nil {
			// Controller: the capacity controller recognises its own objects by a controller
			// reference; without it, every update would add the reference once more.
			controller := true
			return &metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID, Controller: &controller}, nil
		}
		supervisor.Logger(ctx).Infof("local volumes: waiting for Node %s (the owner of its capacity objects): %v", cfg.NodeName, err)
		select {
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), err)
		case <-time.After(5 * time.Second):
		}
	}
}

// ownerCheckInterval is how often the Node is checked for a new UID.
const ownerCheckInterval = 30 * time.Second

// followOwner cancels ctx, saying why, once this node's Node has another UID than owner.
func followOwner(ctx context.Context, cfg Config, owner *metav1.OwnerReference, interval time.Duration, cancel context.CancelCauseFunc) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		node, err := cfg.Client.CoreV1().Nodes().Get(ctx, cfg.NodeName, metav1.GetOptions{})
		if err == nil && node.UID != owner.UID {
			cancel(fmt.Errorf("local volumes: Node %s was registered again (UID %s, was %s): starting over with it as the capacity objects' owner", cfg.NodeName, node.UID, owner.UID))
			return
		}
	}
}

// staticTopology gives the provisioner's topology code this node and its CSINode entry as
// fixed objects instead of watching every Node and CSINode: a node deployment only ever asks
// about its own node.
func staticTopology(client kubernetes.Interface, driver string, info *csi.NodeGetInfoResponse, nodeName string) (storagelisters.CSINodeLister, corelisters.NodeLister) {
	segments := info.GetAccessibleTopology().GetSegments()
	csiNode := &storagev1.CSINode{
		ObjectMeta: metav1.ObjectMeta{Name: nodeName},
		Spec:       storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: driver, NodeID: info.GetNodeId()}}},
	}
	for key := range segments {
		csiNode.Spec.Drivers[0].TopologyKeys = append(csiNode.Spec.Drivers[0].TopologyKeys, key)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName, Labels: segments}}
	stopped := informers.NewSharedInformerFactory(client, 1000*time.Hour) // never started
	csiNodeInformer, nodeInformer := stopped.Storage().V1().CSINodes(), stopped.Core().V1().Nodes()
	_ = csiNodeInformer.Informer().GetStore().Add(csiNode) // a store of one object cannot fail
	_ = nodeInformer.Informer().GetStore().Add(node)
	return csiNodeInformer.Lister(), nodeInformer.Lister()
}
