package provision

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"metropolis.dev/metropolis/node/kubernetes/localvolume"
)

const driver = localvolume.DriverName

func volumeOn(node, size string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pvc-1"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: "pvc-1"}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: localvolume.TopologyKey, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
	}
}

func claimFor(request string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{
			VolumeName: "pvc-1",
			Resources:  corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(request)}},
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")}},
	}
}

func TestResizeWanted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pvc    func() *corev1.PersistentVolumeClaim
		pv     func() *corev1.PersistentVolume
		want   string
		wantOK bool
	}{
		{"a claim asking for more", func() *corev1.PersistentVolumeClaim { return claimFor("128Mi") }, func() *corev1.PersistentVolume { return volumeOn("node-a", "64Mi") }, "128Mi", true},
		{"a claim asking for what it has", func() *corev1.PersistentVolumeClaim { return claimFor("64Mi") }, func() *corev1.PersistentVolume { return volumeOn("node-a", "64Mi") }, "", false},
		{"a volume grown already", func() *corev1.PersistentVolumeClaim { return claimFor("128Mi") }, func() *corev1.PersistentVolume { return volumeOn("node-a", "128Mi") }, "", false},
		{"a volume on another node", func() *corev1.PersistentVolumeClaim { return claimFor("128Mi") }, func() *corev1.PersistentVolume { return volumeOn("node-b", "64Mi") }, "", false},
		{"another driver's volume", func() *corev1.PersistentVolumeClaim { return claimFor("128Mi") }, func() *corev1.PersistentVolume {
			pv := volumeOn("node-a", "64Mi")
			pv.Spec.CSI.Driver = "other.example.com"
			return pv
		}, "", false},
		{"a claim not bound", func() *corev1.PersistentVolumeClaim {
			c := claimFor("128Mi")
			c.Status.Phase = corev1.ClaimPending
			return c
		}, func() *corev1.PersistentVolume { return volumeOn("node-a", "64Mi") }, "", false},
		{"a size found infeasible is not tried again", func() *corev1.PersistentVolumeClaim {
			c := claimFor("1Pi")
			setResizeStatus(c, resource.MustParse("1Pi"), corev1.PersistentVolumeClaimControllerResizeInfeasible)
			return c
		}, func() *corev1.PersistentVolume { return volumeOn("node-a", "64Mi") }, "", false},
		{"a new size after an infeasible one is tried", func() *corev1.PersistentVolumeClaim {
			c := claimFor("128Mi")
			setResizeStatus(c, resource.MustParse("1Pi"), corev1.PersistentVolumeClaimControllerResizeInfeasible)
			return c
		}, func() *corev1.PersistentVolume { return volumeOn("node-a", "64Mi") }, "128Mi", true},
		{"no volume", func() *corev1.PersistentVolumeClaim { return claimFor("128Mi") }, func() *corev1.PersistentVolume { return nil }, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := resizeWanted(tc.pvc(), tc.pv(), driver, "node-a")
			if ok != tc.wantOK || (ok && got.Cmp(resource.MustParse(tc.want)) != 0) {
				t.Fatalf("resizeWanted = %s, %t; want %s, %t", got.String(), ok, tc.want, tc.wantOK)
			}
		})
	}
}

// sync against a fake apiserver: the steps of a resize, and a refusal the driver gives.
func TestResizeSync(t *testing.T) {
	for _, tc := range []struct {
		name       string
		expandErr  error
		wantStatus corev1.ClaimResourceStatus
		wantPV     string
		wantErr    bool
	}{
		{"grown: the kubelet's turn", nil, corev1.PersistentVolumeClaimNodeResizePending, "128Mi", false},
		{"refused for good: infeasible", status.Error(codes.OutOfRange, "too big"), corev1.PersistentVolumeClaimControllerResizeInfeasible, "64Mi", false},
		{"no room now: retried", status.Error(codes.ResourceExhausted, "no room"), corev1.PersistentVolumeClaimControllerResizeInProgress, "64Mi", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pvc, pv := claimFor("128Mi"), volumeOn("node-a", "64Mi")
			client := fake.NewClientset(pvc, pv)
			ctx := context.Background()
			var asked int64
			r := &resizer{
				client: client, driver: driver, node: "node-a",
				expand: func(_ context.Context, id string, bytes int64) (int64, error) {
					asked = bytes
					if tc.expandErr != nil {
						return 0, tc.expandErr
					}
					return bytes, nil
				},
				claims: func(ns, name string) (*corev1.PersistentVolumeClaim, error) {
					return client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
				},
				volumes: func(name string) (*corev1.PersistentVolume, error) {
					return client.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
				},
				recorder: record.NewFakeRecorder(10),
			}
			err := r.sync(ctx, "default", "data")
			if (err != nil) != tc.wantErr {
				t.Fatalf("sync = %v, want error: %t", err, tc.wantErr)
			}
			if asked != 128<<20 {
				t.Errorf("the driver was asked for %d bytes, want %d", asked, 128<<20)
			}
			gotPVC, _ := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
			if s := gotPVC.Status.AllocatedResourceStatuses[corev1.ResourceStorage]; s != tc.wantStatus {
				t.Errorf("claim's resize status %q, want %q", s, tc.wantStatus)
			}
			gotPV, _ := client.CoreV1().PersistentVolumes().Get(ctx, "pvc-1", metav1.GetOptions{})
			if c := gotPV.Spec.Capacity[corev1.ResourceStorage]; c.Cmp(resource.MustParse(tc.wantPV)) != 0 {
				t.Errorf("volume's capacity %s, want %s", c.String(), tc.wantPV)
			}
			if events := r.recorder.(*record.FakeRecorder).Events; tc.expandErr != nil && len(events) == 0 {
				t.Error("a refusal left no event on the claim")
			}
		})
	}
	if !infeasible(status.Error(codes.InvalidArgument, "")) || infeasible(errors.New("plain")) {
		t.Error("infeasible misjudges errors")
	}
}
