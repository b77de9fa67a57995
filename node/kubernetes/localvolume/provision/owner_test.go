package provision

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// The capacity objects' owner: the Node as found, and a start over once it is registered
// again under a new UID (but not while it is merely unchanged).
func TestOwnerFollowsNode(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", UID: "uid-1"}}
	client := fake.NewClientset(node)
	cfg := Config{Client: client, NodeName: "node-a"}
	ctx := context.Background()
	owner, err := nodeOwner(ctx, cfg)
	if err != nil || owner.UID != "uid-1" || owner.Kind != "Node" || owner.Name != "node-a" || owner.Controller == nil || !*owner.Controller {
		t.Fatalf("nodeOwner = %+v, %v", owner, err)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	go func() {
		followOwner(ctx, cfg, owner, time.Millisecond, cancel)
		close(done)
	}()
	time.Sleep(20 * time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("cancelled while the Node kept its UID: %v", context.Cause(ctx))
	}
	again := node.DeepCopy()
	again.UID = types.UID("uid-2")
	if _, err := client.CoreV1().Nodes().Update(ctx, again, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a new UID went unnoticed")
	}
	if cause := context.Cause(ctx); cause == nil || !strings.Contains(cause.Error(), "registered again") {
		t.Fatalf("cause %v, want it to say the Node was registered again", cause)
	}
}
