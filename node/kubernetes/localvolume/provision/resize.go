package provision

import (
	"context"
	"fmt"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"metropolis.dev/metropolis/node/kubernetes/localvolume"
)

// The resizer grows this node's volumes when their claims ask for more: upstream's
// external-resizer does this as a container of its own, and is not published as a Go module
// one can build from, so these few steps are written here. The protocol is the kubelet's
// (RecoverVolumeExpansionFailure, GA): the claim's status says what is being allocated and
// where the resize stands; the kubelet grows the file system once the status says
// NodeResizePending and the PersistentVolume is bigger than the claim's capacity.

// resizeWanted tells whether a bound claim asks its volume on this node for more than the
// volume has, and how much; a size already found infeasible is not tried again until the
// claim asks for another.
func resizeWanted(pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume, driver, node string) (resource.Quantity, bool) {
	if pv == nil || pv.Spec.CSI == nil || pv.Spec.CSI.Driver != driver || !onNode(pv, node) {
		return resource.Quantity{}, false
	}
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName != pv.Name {
		return resource.Quantity{}, false
	}
	requested := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if requested.Cmp(pv.Spec.Capacity[corev1.ResourceStorage]) <= 0 {
		return resource.Quantity{}, false
	}
	allocated := pvc.Status.AllocatedResources[corev1.ResourceStorage]
	if pvc.Status.AllocatedResourceStatuses[corev1.ResourceStorage] == corev1.PersistentVolumeClaimControllerResizeInfeasible && allocated.Cmp(requested) == 0 {
		return resource.Quantity{}, false
	}
	return requested, true
}

// onNode tells whether a PersistentVolume's node affinity names this node's topology segment.
func onNode(pv *corev1.PersistentVolume, node string) bool {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return false
	}
	for _, term := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if e.Key != localvolume.TopologyKey || e.Operator != corev1.NodeSelectorOpIn {
				continue
			}
			for _, v := range e.Values {
				if v == node {
					return true
				}
			}
		}
	}
	return false
}

// infeasible tells which driver refusals are final for the size asked: a new size is needed.
func infeasible(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.OutOfRange, codes.NotFound:
		return true
	}
	return false
}

// resizer carries out resizeWanted for the claims it is told about.
type resizer struct {
	client kubernetes.Interface
	driver string
	node   string
	// expand grows a volume to at least bytes and returns its new size.
	expand   func(ctx context.Context, volumeID string, bytes int64) (int64, error)
	claims   func(namespace, name string) (*corev1.PersistentVolumeClaim, error)
	volumes  func(name string) (*corev1.PersistentVolume, error)
	recorder record.EventRecorder
}

// csiExpand calls the driver's ControllerExpandVolume.
func csiExpand(client csi.ControllerClient) func(context.Context, string, int64) (int64, error) {
	return func(ctx context.Context, id string, bytes int64) (int64, error) {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		res, err := client.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: id, CapacityRange: &csi.CapacityRange{RequiredBytes: bytes}})
		if err != nil {
			return 0, err
		}
		return res.GetCapacityBytes(), nil
	}
}

// sync brings one claim's volume to the size it asks for: claim status "controller resize in
// progress", the volume grown, the PersistentVolume's capacity updated, claim status "node
// resize pending" (the kubelet takes it from there). Every update is a compare-and-set on
// the object's resourceVersion: a conflict is retried from the start, and each step is safe
// to repeat.
func (r *resizer) sync(ctx context.Context, namespace, name string) error {
	pvc, err := r.claims(namespace, name)
	if err != nil || pvc == nil {
		return err
	}
	pv, err := r.volumes(pvc.Spec.VolumeName)
	if err != nil {
		return err
	}
	want, ok := resizeWanted(pvc, pv, r.driver, r.node)
	if !ok {
		return nil
	}
	pvc = pvc.DeepCopy()
	setResizeStatus(pvc, want, corev1.PersistentVolumeClaimControllerResizeInProgress)
	if pvc, err = r.client.CoreV1().PersistentVolumeClaims(namespace).UpdateStatus(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("claim %s/%s: mark resize in progress: %w", namespace, name, err)
	}
	size, err := r.expand(ctx, pv.Spec.CSI.VolumeHandle, want.Value())
	if err != nil {
		r.recorder.Eventf(pvc, corev1.EventTypeWarning, "VolumeResizeFailed", "growing volume %s to %s: %v", pv.Spec.CSI.VolumeHandle, want.String(), err)
		if infeasible(err) {
			pvc = pvc.DeepCopy()
			setResizeStatus(pvc, want, corev1.PersistentVolumeClaimControllerResizeInfeasible)
			_, uerr := r.client.CoreV1().PersistentVolumeClaims(namespace).UpdateStatus(ctx, pvc, metav1.UpdateOptions{})
			return uerr
		}
		return err
	}
	pv = pv.DeepCopy()
	pv.Spec.Capacity[corev1.ResourceStorage] = *resource.NewQuantity(size, resource.BinarySI)
	if _, err := r.client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("volume %s: record its new capacity: %w", pv.Name, err)
	}
	pvc = pvc.DeepCopy()
	setResizeStatus(pvc, want, corev1.PersistentVolumeClaimNodeResizePending)
	setCondition(pvc, corev1.PersistentVolumeClaimCondition{
		Type: corev1.PersistentVolumeClaimFileSystemResizePending, Status: corev1.ConditionTrue,
		Message: "Waiting for the kubelet to grow the file system on node " + r.node,
	})
	if _, err := r.client.CoreV1().PersistentVolumeClaims(namespace).UpdateStatus(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("claim %s/%s: mark node resize pending: %w", namespace, name, err)
	}
	r.recorder.Eventf(pvc, corev1.EventTypeNormal, "FileSystemResizeRequired", "volume %s grown to %s on node %s; the kubelet grows its file system next", pv.Spec.CSI.VolumeHandle, resource.NewQuantity(size, resource.BinarySI).String(), r.node)
	return nil
}

func setResizeStatus(pvc *corev1.PersistentVolumeClaim, size resource.Quantity, s corev1.ClaimResourceStatus) {
	if pvc.Status.AllocatedResources == nil {
		pvc.Status.AllocatedResources = corev1.ResourceList{}
	}
	pvc.Status.AllocatedResources[corev1.ResourceStorage] = size
	if pvc.Status.AllocatedResourceStatuses == nil {
		pvc.Status.AllocatedResourceStatuses = map[corev1.ResourceName]corev1.ClaimResourceStatus{}
	}
	pvc.Status.AllocatedResourceStatuses[corev1.ResourceStorage] = s
}

func setCondition(pvc *corev1.PersistentVolumeClaim, c corev1.PersistentVolumeClaimCondition) {
	c.LastTransitionTime = metav1.Now()
	for i, old := range pvc.Status.Conditions {
		if old.Type == c.Type {
			pvc.Status.Conditions[i] = c
			return
		}
	}
	pvc.Status.Conditions = append(pvc.Status.Conditions, c)
}

// runResizer syncs claims as they change until ctx ends, retrying failures with backoff.
func runResizer(ctx context.Context, r *resizer, claims cache.SharedIndexInformer, log func(string, ...any)) error {
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](retryStart, retryMax),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "resize"})
	defer queue.ShutDown()
	enqueue := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			queue.Add(key)
		}
	}
	if _, err := claims.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	for {
		key, quit := queue.Get()
		if quit {
			return ctx.Err()
		}
		namespace, name, _ := cache.SplitMetaNamespaceKey(key) // keys are the informer's own
		start := time.Now()
		if err := r.sync(ctx, namespace, name); err != nil {
			log("resizing claim %s: %v (retrying)", key, err)
			queue.AddRateLimited(key)
		} else {
			queue.Forget(key)
			if d := time.Since(start); d > time.Second {
				log("claim %s resized in %.1fs", key, d.Seconds())
			}
		}
		queue.Done(key)
	}
}
