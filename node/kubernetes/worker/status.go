package worker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apb "metropolis.dev/metropolis/api/v1"
)

// maxConditionText bounds the condition's message and an error in the status: a kubelet's
// NotReady message lists every failing check and can run long.
const maxConditionText = 200

// NodeStatus asks the apiserver for this node's Node and reports its Ready condition, or why it
// cannot (within ctx). It asks as the kubelet, which may read its own Node.
func (s *Service) NodeStatus(ctx context.Context) *apb.KubernetesNodeStatus {
	ca, err := os.ReadFile(filepath.Join(s.pkiDir(), caFile))
	if err != nil {
		return &apb.KubernetesNodeStatus{Error: boundText("the Kubernetes CA: " + err.Error())}
	}
	cs, err := clientset(ca, filepath.Join(s.pkiDir(), kubeletClientFile))
	if err != nil {
		return &apb.KubernetesNodeStatus{Error: boundText(err.Error())}
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, s.cfg.NodeID, metav1.GetOptions{})
	if err != nil {
		return &apb.KubernetesNodeStatus{Error: boundText(fmt.Sprintf("get Node %s: %v", s.cfg.NodeID, err))}
	}
	return readyStatus(node)
}

// readyStatus is node's Ready condition; a Node without one (the kubelet has not reported yet)
// is not ready, and says so.
func readyStatus(node *corev1.Node) *apb.KubernetesNodeStatus {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return &apb.KubernetesNodeStatus{
				Ready: c.Status == corev1.ConditionTrue, Reason: boundText(c.Reason), Message: boundText(c.Message),
			}
		}
	}
	return &apb.KubernetesNodeStatus{Error: "the Node has no Ready condition yet: its kubelet has not reported"}
}

func boundText(s string) string {
	if len(s) <= maxConditionText {
		return s
	}
	return s[:maxConditionText] + "…"
}
