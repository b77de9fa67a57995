package curator

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/rollout"
	"metropolis.dev/metropolis/osbase/logtree"
)

// TestRolloutKubernetes: the leader's Kubernetes side of a rollout against client-go's fake
// clientset: a draining worker is cordoned with the rollout's mark, its pods but a DaemonSet's
// are evicted, and once done it is uncordoned; a node an operator cordoned is left alone.
func TestRolloutKubernetes(t *testing.T) {
	ctx := context.Background()
	ready := corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}
	ctrl := true
	pod := func(name, kind string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", OwnerReferences: []metav1.OwnerReference{{Kind: kind, Name: "owner", Controller: &ctrl, APIVersion: "apps/v1"}}},
			Spec:       corev1.PodSpec{NodeName: "w1"},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning},
		}
	}
	client := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w1"}, Status: ready},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w2"}, Spec: corev1.NodeSpec{Unschedulable: true}, Status: ready},
		pod("app-1", "ReplicaSet"), pod("agent", "DaemonSet"),
	)
	var evicted []string
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		ev := a.(k8stesting.CreateAction).GetObject().(*policyv1.Eviction)
		evicted = append(evicted, ev.Name)
		return true, nil, nil
	})
	// The DaemonSet the drain logic looks up to leave its pod alone.
	if _, err := client.AppsV1().DaemonSets("default").Create(ctx, &appsDaemonSet, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l := &leader{}
	l.kubeAccess.client, l.kubeAccess.made = client, time.Now()
	logger := logtree.New().MustLeveledFor("test")

	r := &apb.Rollout{Id: "rollout-1", Nodes: []*apb.RolloutNode{
		{NodeId: "w1", Phase: apb.RolloutPhase_ROLLOUT_PHASE_DRAINING, Attempt: 1},
		{NodeId: "w2", Phase: apb.RolloutPhase_ROLLOUT_PHASE_DONE},
	}}
	view := func() rollout.View {
		v := rollout.View{Nodes: map[string]rollout.Node{
			"w1": {ID: "w1", Up: true, KubernetesWorker: true},
			"w2": {ID: "w2", Up: true, KubernetesWorker: true},
		}}
		if got := l.addKubernetes(ctx, r, &v); got == nil {
			t.Fatalf("no client: %v", v.Nodes["w1"].KubernetesUnknown)
		}
		return v
	}
	v := view()
	if k := v.Nodes["w1"].Kubernetes; k == nil || !k.Ready || k.Unschedulable || k.Evictable != 1 || k.FirstEvictable != "default/app-1" {
		t.Fatalf("w1 as seen: %+v", k)
	}
	if err := l.applyKubernetes(ctx, client, r, v, logger); err != nil {
		t.Fatal(err)
	}
	v = view()
	if k := v.Nodes["w1"].Kubernetes; !k.Unschedulable || !k.CordonedByRollout {
		t.Fatalf("w1 after the first round: %+v; want cordoned by the rollout", k)
	}
	if err := l.applyKubernetes(ctx, client, r, v, logger); err != nil {
		t.Fatal(err)
	}
	if len(evicted) != 1 || evicted[0] != "app-1" {
		t.Errorf("evicted %v; want app-1 only (not the DaemonSet's pod)", evicted)
	}
	if k := v.Nodes["w2"].Kubernetes; !k.Unschedulable || k.CordonedByRollout {
		t.Errorf("w2 (cordoned by an operator): %+v", k)
	}

	r.Nodes[0].Phase = apb.RolloutPhase_ROLLOUT_PHASE_RETURNING
	if err := l.applyKubernetes(ctx, client, r, view(), logger); err != nil {
		t.Fatal(err)
	}
	v = view()
	if k := v.Nodes["w1"].Kubernetes; k.Unschedulable || k.CordonedByRollout {
		t.Errorf("w1 once returning: %+v; want uncordoned and unmarked", k)
	}
	if k := v.Nodes["w2"].Kubernetes; !k.Unschedulable {
		t.Errorf("the rollout uncordoned w2, which an operator had cordoned")
	}
}

var appsDaemonSet = appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: "default"}}
