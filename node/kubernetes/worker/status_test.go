package worker

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestReadyStatus(t *testing.T) {
	cond := func(status corev1.ConditionStatus, reason, msg string) []corev1.NodeCondition {
		return []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
			{Type: corev1.NodeReady, Status: status, Reason: reason, Message: msg},
		}
	}
	for _, tc := range []struct {
		name       string
		conditions []corev1.NodeCondition
		ready      bool
		want       string // in the reason, message or error
	}{
		{"ready", cond(corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"), true, "KubeletReady"},
		{"not ready, with the kubelet's reason", cond(corev1.ConditionFalse, "KubeletNotReady", "container runtime network not ready"), false, "network not ready"},
		{"unknown: the kubelet stopped posting", cond(corev1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status."), false, "stopped posting"},
		{"no Ready condition yet", nil, false, "has not reported"},
		{"a long message is cut", cond(corev1.ConditionFalse, "KubeletNotReady", strings.Repeat("x", 5000)), false, "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readyStatus(&corev1.Node{Status: corev1.NodeStatus{Conditions: tc.conditions}})
			text := got.Reason + " " + got.Message + " " + got.Error
			if got.Ready != tc.ready || !strings.Contains(text, tc.want) || len(text) > 3*maxConditionText+10 {
				t.Errorf("readyStatus = %v, want ready %v and %q within bounds", got, tc.ready, tc.want)
			}
		})
	}
}
