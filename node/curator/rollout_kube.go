package curator

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/kubectl/pkg/drain"

	apb "metropolis.dev/metropolis/api/v1"
	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
	"metropolis.dev/metropolis/node/rollout"
	"metropolis.dev/metropolis/osbase/logtree"
)

const (
	// cordonAnnotation marks a Kubernetes node that a rollout cordoned, with the rollout's
	// ID: the rollout uncordons only the nodes it cordoned, and finds them again after a
	// leader change because the mark is on the node itself.
	cordonAnnotation = "metropolis.dev/rollout-cordoned"
	// kubeCredentialValidity is the lifetime of the leader's own Kubernetes certificate; the
	// client is made again well before it ends.
	kubeCredentialValidity = time.Hour
	kubeClientReuse        = 30 * time.Minute
	// kubeCallTimeout bounds each Kubernetes call of a rollout round.
	kubeCallTimeout = 20 * time.Second
)

// evictionVersion is the eviction API every supported Kubernetes serves.
var evictionVersion = schema.GroupVersion{Group: "policy", Version: "v1"}

// kubeAccess is the leader's Kubernetes client for rollouts, as metropolis:curator (a
// ClusterRole that may only read and (un)cordon nodes, read pods and evict them).
type kubeAccess struct {
	mu      sync.Mutex
	client  kubernetes.Interface
	made    time.Time
	attempt int
}

// kube returns the client, making one through an UP controller's apiserver if there is none
// or it is old. It returns nil and no error if the cluster has no Kubernetes (no controller
// ever created its CA).
func (l *leader) kube(ctx context.Context) (kubernetes.Interface, error) {
	k := &l.kubeAccess
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.client != nil && time.Since(k.made) < kubeClientReuse {
		return k.client, nil
	}
	ca, err := kpki.LoadCA(ctx, l.cfg.Etcd)
	if errors.Is(err, kpki.ErrNotCreated) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes CA: %w", err)
	}
	endpoints, err := apiserverEndpoints(ctx, l)
	if err != nil {
		return nil, err
	}
	if len(endpoints) == 0 {
		return nil, errors.New("no Kubernetes controller is up")
	}
	// Each new client tries the next controller, so one that stopped answering is left.
	endpoint := endpoints[k.attempt%len(endpoints)]
	k.attempt++
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cert, err := ca.Issue(kpki.Request{CommonName: kpki.UserCurator, Validity: kubeCredentialValidity}, &key.PublicKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(&rest.Config{
		Host:    "https://" + endpoint,
		Timeout: kubeCallTimeout,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Certificate.Raw}),
			CertData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
			KeyData:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		},
	})
	if err != nil {
		return nil, err
	}
	k.client, k.made = client, time.Now()
	return client, nil
}

// forgetKube drops the client after a failed call: the next round dials the next controller.
func (l *leader) forgetKube() {
	l.kubeAccess.mu.Lock()
	defer l.kubeAccess.mu.Unlock()
	l.kubeAccess.client = nil
}

// drainer is kubectl's drain logic for one round: which pods a drain evicts (not DaemonSet
// pods, not mirror pods; pods without a controller and pods with emptyDir volumes too, since
// the node's reboot would end them anyway) and their eviction, which honours
// PodDisruptionBudgets.
func drainer(ctx context.Context, client kubernetes.Interface) *drain.Helper {
	return &drain.Helper{
		Ctx: ctx, Client: client, Force: true, IgnoreAllDaemonSets: true, DeleteEmptyDirData: true,
		GracePeriodSeconds: -1, Out: io.Discard, ErrOut: io.Discard,
	}
}

// addKubernetes fills in the Kubernetes side of the view for the workers of plan r: their
// Kubernetes nodes, and for those draining, the pods left to evict. If the API cannot be
// asked, every worker's Kubernetes is unknown (and says why); in a cluster without Kubernetes,
// nodes are not workers.
func (l *leader) addKubernetes(ctx context.Context, r *apb.Rollout, v *rollout.View) kubernetes.Interface {
	client, err := l.kube(ctx)
	if client == nil && err == nil {
		for id, n := range v.Nodes {
			n.KubernetesWorker = false
			v.Nodes[id] = n
		}
		return nil
	}
	var list *corev1.NodeList
	if err == nil {
		list, err = client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	}
	if err != nil {
		l.forgetKube()
		for id, n := range v.Nodes {
			if n.KubernetesWorker {
				n.KubernetesUnknown = err.Error()
				v.Nodes[id] = n
			}
		}
		return nil
	}
	byName := map[string]*corev1.Node{}
	for i := range list.Items {
		byName[list.Items[i].Name] = &list.Items[i]
	}
	draining := map[string]bool{}
	for _, rn := range r.GetNodes() {
		draining[rn.NodeId] = rn.Phase == apb.RolloutPhase_ROLLOUT_PHASE_DRAINING
	}
	for id, n := range v.Nodes {
		kn := byName[id]
		if !n.KubernetesWorker || kn == nil {
			continue
		}
		k := &rollout.KubernetesNode{
			Ready:             nodeReady(kn),
			Unschedulable:     kn.Spec.Unschedulable,
			CordonedByRollout: kn.Annotations[cordonAnnotation] == r.GetId(),
		}
		if draining[id] {
			pods, errs := drainer(ctx, client).GetPodsForDeletion(id)
			if len(errs) > 0 {
				n.KubernetesUnknown = fmt.Sprintf("list the pods to evict: %v", errors.Join(errs...))
			} else if p := pods.Pods(); len(p) > 0 {
				k.Evictable, k.FirstEvictable = len(p), p[0].Namespace+"/"+p[0].Name
			}
		}
		n.Kubernetes = k
		v.Nodes[id] = n
	}
	return client
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// applyKubernetes makes the workers of plan r as the plan wants them: cordoned and drained
// while they update, uncordoned after (only those this rollout cordoned).
func (l *leader) applyKubernetes(ctx context.Context, client kubernetes.Interface, r *apb.Rollout, v rollout.View, logger logtree.LeveledLogger) error {
	if client == nil {
		return nil
	}
	var errs []error
	for _, rn := range r.GetNodes() {
		n := v.Nodes[rn.NodeId]
		k := n.Kubernetes
		if !n.KubernetesWorker || k == nil || n.KubernetesUnknown != "" {
			continue
		}
		w := rollout.WantFor(r, rn)
		switch {
		case w.Cordoned && !k.Unschedulable:
			if err := setCordon(ctx, client, rn.NodeId, r.GetId()); err != nil {
				errs = append(errs, err)
				continue
			}
			logger.Infof("rollout %s: cordoned Kubernetes node %s", r.GetId(), rn.NodeId)
		case w.Uncordoned && k.Unschedulable && k.CordonedByRollout:
			if err := setCordon(ctx, client, rn.NodeId, ""); err != nil {
				errs = append(errs, err)
				continue
			}
			logger.Infof("rollout %s: uncordoned Kubernetes node %s", r.GetId(), rn.NodeId)
		}
		if w.Drained && k.Unschedulable {
			if err := l.evict(ctx, client, rn.NodeId, logger); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// setCordon marks node unschedulable with the rollout's annotation, or with rolloutID empty,
// schedulable without it: one patch, so the mark and the state never disagree.
func setCordon(ctx context.Context, client kubernetes.Interface, node, rolloutID string) error {
	var annotation any
	if rolloutID != "" {
		annotation = rolloutID
	}
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{cordonAnnotation: annotation}},
		"spec":     map[string]any{"unschedulable": rolloutID != ""},
	}) // maps of strings and bools always marshal
	_, err := client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("(un)cordon Kubernetes node %s: %w", node, err)
	}
	return nil
}

// evict asks the eviction API to evict every pod a drain of node evicts that is not already
// terminating. A PodDisruptionBudget that forbids one now (429) is no error: the next round
// asks again, until the drain timeout.
func (l *leader) evict(ctx context.Context, client kubernetes.Interface, node string, logger logtree.LeveledLogger) error {
	d := drainer(ctx, client)
	pods, errs := d.GetPodsForDeletion(node)
	if len(errs) > 0 {
		return fmt.Errorf("list the pods on %s to evict: %w", node, errors.Join(errs...))
	}
	evicted, blocked := 0, 0
	for _, p := range pods.Pods() {
		if p.DeletionTimestamp != nil {
			continue
		}
		err := d.EvictPod(p, evictionVersion)
		switch {
		case err == nil:
			evicted++
		case apierrors.IsTooManyRequests(err):
			blocked++
		case apierrors.IsNotFound(err):
		default:
			return fmt.Errorf("evict pod %s/%s from %s: %w", p.Namespace, p.Name, node, err)
		}
	}
	if evicted > 0 || blocked > 0 {
		logger.Infof("draining Kubernetes node %s: evicted %d pod(s), %d held back by a PodDisruptionBudget", node, evicted, blocked)
	}
	return nil
}
