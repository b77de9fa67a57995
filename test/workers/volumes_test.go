package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/kubectl"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// volumeWorkload is a StatefulSet of one pod with a 64 MiB claim of the default StorageClass.
const volumeWorkload = `apiVersion: v1
kind: Namespace
metadata: {name: volumes}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: store, namespace: volumes}
spec:
  replicas: 1
  serviceName: store
  selector: {matchLabels: {app: store}}
  template:
    metadata: {labels: {app: store}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: store
        image: metropolis.dev/testhttp:v1
        imagePullPolicy: Never
        args: [serve, -listen, ":8080"]
        volumeMounts: [{name: data, mountPath: /data}, {name: scratch, mountPath: /scratch}]
      volumes: [{name: scratch, emptyDir: {}}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 64Mi}}
`

// hugeClaim asks for more than any test node holds; its pod must stay unscheduled.
const hugeClaim = `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: huge, namespace: volumes}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 500Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: huge, namespace: volumes}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: huge, image: metropolis.dev/testhttp:v1, imagePullPolicy: Never, args: [serve], volumeMounts: [{name: data, mountPath: /data}]}
  volumes: [{name: data, persistentVolumeClaim: {claimName: huge}}]
`

// typoClaim uses a StorageClass with a parameter the driver does not know.
const typoClaim = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-typo}
provisioner: local.metropolis.dev
volumeBindingMode: WaitForFirstConsumer
parameters: {tier: fast}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: typo, namespace: volumes}
spec:
  storageClassName: local-typo
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: typo, namespace: volumes}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: typo, image: metropolis.dev/testhttp:v1, imagePullPolicy: Never, args: [serve], volumeMounts: [{name: data, mountPath: /data}]}
  volumes: [{name: data, persistentVolumeClaim: {claimName: typo}}]
`

// blockClaim is a raw block volume and a pod that has it as a device.
const blockClaim = `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: raw, namespace: volumes}
spec:
  volumeMode: Block
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 16Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: raw, namespace: volumes}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: raw, image: metropolis.dev/testhttp:v1, imagePullPolicy: Never, args: [serve], volumeDevices: [{name: data, devicePath: /dev/xvda}]}
  volumes: [{name: data, persistentVolumeClaim: {claimName: raw}}]
`

// testLocalVolumes: a StatefulSet's claim is provisioned on a worker's data partition, keeps
// its data when the pod is replaced and when its node reboots, holds no more than its size (the node's space is
// untouched by a pod filling it), grows online, reports its usage through the kubelet,
// returns its space when deleted; a raw block volume reaches its pod as a device; a claim
// bigger than any node stays unscheduled and a claim with a bad parameter is refused, each
// with an event saying why.
func testLocalVolumes(t *testing.T, c *testenv.VMCluster, k *kubectl.Kubectl, ids []string) {
	var before map[string]int64
	eventually.Pass(t, 3*time.Minute, "a CSIStorageCapacity object for each worker", func(context.Context) error {
		var err error
		before, err = storageCapacity(k, ids)
		return err
	})
	t.Logf("capacity for volumes before: %v MiB", mib(before))

	start := time.Now()
	must(t, k, volumeWorkload, "apply", "-f", "-")
	var node, uid string
	d := eventually.Pass(t, podTimeout, "store-0 Running with its claim bound and mounted", func(context.Context) error {
		var err error
		node, uid, err = runningPod(k, "volumes", "store-0")
		return err
	})
	t.Logf("StatefulSet applied → claim bound, volume mounted, pod Running on %s: %.1fs", node, d.Seconds())
	exec := func(args ...string) (string, error) {
		return k.Run("", append([]string{"-n", "volumes", "exec", "store-0", "--", "/testhttp"}, args...)...)
	}
	stamp := fmt.Sprintf("kept-%d", start.UnixNano())
	if out, err := exec("write", "/data/greeting", stamp); err != nil {
		t.Fatalf("write through the pod: %v %s", err, out)
	}

	must(t, k, "", "-n", "volumes", "delete", "pod", "store-0", "--wait=true")
	eventually.Pass(t, podTimeout, "a new store-0 Running", func(context.Context) error {
		_, now, err := runningPod(k, "volumes", "store-0")
		if err == nil && now == uid {
			return fmt.Errorf("store-0 is still the old pod")
		}
		uid = now
		return err
	})
	if out, err := exec("cat", "/data/greeting"); err != nil || out != stamp {
		t.Fatalf("the replacement pod reads %q, %v; want %q", out, err, stamp)
	}

	freeBefore := nodeFSAvailable(t, k, node)
	out, err := exec("fill", "/data/big", "-mib", "80")
	if err == nil || !strings.Contains(out+err.Error(), "no space left on device") {
		t.Fatalf("writing 80 MiB into the 64 MiB volume: %v %q; want no space left on device", err, out)
	}
	t.Logf("writing 80 MiB into the 64 MiB claim: %s", firstLineOf(err.Error()))
	if freed := freeBefore - nodeFSAvailable(t, k, node); freed > 16<<20 {
		t.Errorf("filling the volume took %d MiB of the node's own space", freed>>20)
	}

	eventually.Pass(t, 4*time.Minute, "the volume's usage in the kubelet's stats", func(context.Context) error {
		capBytes, used, err := volumeStats(k, node, "volumes", "store-0", "data")
		if err != nil {
			return err
		}
		if capBytes < 50<<20 || capBytes > 64<<20 || used < 50<<20 {
			return fmt.Errorf("stats say %d of %d bytes used", used, capBytes)
		}
		return nil
	})

	grow := time.Now()
	must(t, k, "", "-n", "volumes", "patch", "pvc", "data-store-0", "-p", `{"spec":{"resources":{"requests":{"storage":"128Mi"}}}}`)
	eventually.Pass(t, 5*time.Minute, "the claim grown to 128Mi", func(context.Context) error {
		out, err := k.Run("", "-n", "volumes", "get", "pvc", "data-store-0", "-o", "jsonpath={.status.capacity.storage}")
		if err != nil {
			return err
		}
		if out != "128Mi" {
			return fmt.Errorf("capacity %q", out)
		}
		return nil
	})
	t.Logf("claim patched to 128Mi → grown online: %.1fs", time.Since(grow).Seconds())
	volumeWrite := time.Now()
	if out, err := exec("fill", "/data/big", "-mib", "80"); err != nil {
		t.Fatalf("writing 80 MiB after growing to 128 MiB: %v %s", err, out)
	}
	tookVolume := time.Since(volumeWrite)
	partitionWrite := time.Now()
	if out, err := exec("fill", "/scratch/big", "-mib", "80"); err != nil {
		t.Fatalf("writing 80 MiB into an emptyDir: %v %s", err, out)
	}
	tookPartition := time.Since(partitionWrite)
	t.Logf("80 MiB written and synced through kubectl exec: into the volume %.1fs (%.1f MB/s), into an emptyDir on the data partition %.1fs (%.1f MB/s)",
		tookVolume.Seconds(), 80*1.048576/tookVolume.Seconds(), tookPartition.Seconds(), 80*1.048576/tookPartition.Seconds())
	if _, now, err := runningPod(k, "volumes", "store-0"); err != nil || now != uid {
		t.Errorf("store-0 after growing: uid %s, %v; want the same pod %s", now, err, uid)
	}

	reboot := time.Now()
	rebootNode(t, c, node)
	eventually.Pass(t, podTimeout, "store-0 running again after its node rebooted", func(context.Context) error {
		if _, _, err := runningPod(k, "volumes", "store-0"); err != nil {
			return err
		}
		// The pod object may outlive the reboot; its container cannot.
		out, err := k.Run("", "-n", "volumes", "get", "pod", "store-0", "-o", "jsonpath={.status.containerStatuses[0].state.running.startedAt}")
		if err != nil {
			return err
		}
		started, err := time.Parse(time.RFC3339, strings.TrimSpace(out))
		if err != nil {
			return fmt.Errorf("store-0's container is not running: %q", out)
		}
		if !started.After(reboot) {
			return fmt.Errorf("store-0's container started at %s, before the reboot", started.Format(time.RFC3339))
		}
		return nil
	})
	t.Logf("node %s rebooted → store-0 Running again on it: %.1fs", node, time.Since(reboot).Seconds())
	if out, err := exec("cat", "/data/greeting"); err != nil || out != stamp {
		t.Fatalf("after the node's reboot the volume reads %q, %v; want %q", out, err, stamp)
	}

	must(t, k, hugeClaim, "apply", "-f", "-")
	eventually.Pass(t, 3*time.Minute, "the huge claim's pod unscheduled for want of storage", func(context.Context) error {
		out, err := k.Run("", "-n", "volumes", "get", "events", "--field-selector", "involvedObject.name=huge", "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "enough free storage") {
			return fmt.Errorf("events: %q", out)
		}
		return nil
	})
	if phase := must(t, k, "", "-n", "volumes", "get", "pvc", "huge", "-o", "jsonpath={.status.phase}"); phase != "Pending" {
		t.Errorf("the huge claim is %s, want Pending", phase)
	}

	must(t, k, typoClaim, "apply", "-f", "-")
	eventually.Pass(t, 3*time.Minute, "the claim with a bad parameter refused with an event", func(context.Context) error {
		out, err := k.Run("", "-n", "volumes", "get", "events", "--field-selector", "involvedObject.name=typo,involvedObject.kind=PersistentVolumeClaim", "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}")
		if err != nil {
			return err
		}
		if !strings.Contains(out, `"tier"`) || !strings.Contains(out, "takes no parameters") {
			return fmt.Errorf("events: %q", out)
		}
		return nil
	})
	must(t, k, blockClaim, "apply", "-f", "-")
	d = eventually.Pass(t, podTimeout, "the raw block volume's pod Running", func(context.Context) error {
		_, _, err := runningPod(k, "volumes", "raw")
		return err
	})
	t.Logf("block claim and pod applied → pod Running with the device: %.1fs", d.Seconds())
	blockStamp := "block-" + stamp
	if out, err := k.Run("", "-n", "volumes", "exec", "raw", "--", "/testhttp", "write", "/dev/xvda", blockStamp); err != nil {
		t.Fatalf("write onto the raw device: %v %s", err, out)
	}
	if out, err := k.Run("", "-n", "volumes", "exec", "raw", "--", "/testhttp", "cat", "/dev/xvda", "-bytes", fmt.Sprint(len(blockStamp))); err != nil || out != blockStamp {
		t.Fatalf("the raw device reads %q, %v; want %q", out, err, blockStamp)
	}
	must(t, k, "", "-n", "volumes", "delete", "pod/huge", "pod/typo", "pod/raw", "pvc/huge", "pvc/typo", "pvc/raw", "--wait=false")
	must(t, k, "", "delete", "storageclass", "local-typo")

	held, err := storageCapacity(k, ids)
	if err != nil {
		t.Fatal(err)
	}
	must(t, k, "", "-n", "volumes", "delete", "statefulset", "store", "--wait=true")
	must(t, k, "", "-n", "volumes", "delete", "pvc", "data-store-0", "--wait=false")
	eventually.Pass(t, 3*time.Minute, "the deleted claim's space back in the node's capacity", func(context.Context) error {
		now, err := storageCapacity(k, ids)
		if err != nil {
			return err
		}
		if back := now[node] - held[node]; back < 120<<20 {
			return fmt.Errorf("capacity of %s went from %d to %d MiB", node, held[node]>>20, now[node]>>20)
		}
		return nil
	})
	eventually.Pass(t, time.Minute, "no PersistentVolumes left", func(context.Context) error {
		out, err := k.Run("", "get", "pv", "-o", "name")
		if err != nil || strings.TrimSpace(out) != "" {
			return fmt.Errorf("PersistentVolumes: %q, %v", out, err)
		}
		return nil
	})
	must(t, k, "", "delete", "namespace", "volumes", "--wait=false")
}

// pinnedWorkload is a StatefulSet with a claim, made while only one node is schedulable.
const pinnedWorkload = `apiVersion: v1
kind: Namespace
metadata: {name: pinned}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: pinned, namespace: pinned}
spec:
  replicas: 1
  serviceName: pinned
  selector: {matchLabels: {app: pinned}}
  template:
    metadata: {labels: {app: pinned}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: pinned, image: metropolis.dev/testhttp:v1, imagePullPolicy: Never, args: [serve], volumeMounts: [{name: data, mountPath: /data}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 32Mi}}
`

// pinVolume runs a StatefulSet whose volume lives on node: the other node is cordoned while
// it is scheduled.
func pinVolume(t *testing.T, k *kubectl.Kubectl, node, other string) {
	must(t, k, "", "cordon", other)
	defer must(t, k, "", "uncordon", other)
	must(t, k, pinnedWorkload, "apply", "-f", "-")
	eventually.Pass(t, podTimeout, "pinned-0 Running on "+node, func(context.Context) error {
		on, _, err := runningPod(k, "pinned", "pinned-0")
		if err == nil && on != node {
			return fmt.Errorf("pinned-0 runs on %s", on)
		}
		return err
	})
}

// replaceVolumeOfDeletedNode: once the node holding pinned-0's volume is deleted, the pod
// cannot be scheduled anywhere (its volume's node affinity names a node that is gone), and the
// scheduler says so; deleting the claim lets the StatefulSet start over, with a new volume, on
// the other node. The old PersistentVolume stays Released for the operator to delete.
func replaceVolumeOfDeletedNode(t *testing.T, k *kubectl.Kubectl, other string) {
	eventually.Pass(t, 3*time.Minute, "pinned-0 unschedulable for its volume's node affinity", func(context.Context) error {
		out, err := k.Run("", "-n", "pinned", "get", "events", "--field-selector", "involvedObject.name=pinned-0,reason=FailedScheduling", "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "didn't match PersistentVolume's node affinity") {
			return fmt.Errorf("events: %q", out)
		}
		return nil
	})
	oldPV := strings.TrimSpace(must(t, k, "", "-n", "pinned", "get", "pvc", "data-pinned-0", "-o", "jsonpath={.spec.volumeName}"))
	must(t, k, "", "-n", "pinned", "delete", "pvc", "data-pinned-0", "--wait=false")
	must(t, k, "", "-n", "pinned", "delete", "pod", "pinned-0", "--wait=false")
	d := eventually.Pass(t, podTimeout, "pinned-0 Running on "+other+" with a new claim", func(context.Context) error {
		on, _, err := runningPod(k, "pinned", "pinned-0")
		if err == nil && on != other {
			return fmt.Errorf("pinned-0 runs on %s", on)
		}
		return err
	})
	t.Logf("claim of the deleted node's volume deleted → StatefulSet running again on %s: %.1fs", other, d.Seconds())
	eventually.Pass(t, time.Minute, "the old volume Released", func(context.Context) error {
		phase, err := k.Run("", "get", "pv", oldPV, "-o", "jsonpath={.status.phase}")
		if err != nil || phase != "Released" {
			return fmt.Errorf("PersistentVolume %s: %q, %v", oldPV, phase, err)
		}
		return nil
	})
	must(t, k, "", "delete", "pv", oldPV, "--wait=false")
	must(t, k, "", "delete", "namespace", "pinned", "--wait=false")
}

// rebootNode reboots a node through its management API.
func rebootNode(t *testing.T, c *testenv.VMCluster, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := nodeManagement(ctx, t, c, id).Reboot(ctx, &apb.RebootRequest{}); err != nil {
		t.Fatalf("reboot %s: %v", id, err)
	}
}

// runningPod returns a Running pod's node and UID.
func runningPod(k *kubectl.Kubectl, namespace, name string) (node, uid string, err error) {
	out, err := k.Run("", "-n", namespace, "get", "pod", name, "-o", "jsonpath={.spec.nodeName} {.metadata.uid} {.status.phase} {.metadata.deletionTimestamp}")
	if err != nil {
		return "", "", err
	}
	f := strings.Fields(out)
	if len(f) != 3 || f[2] != "Running" {
		return "", "", fmt.Errorf("pod %s/%s: %q", namespace, name, out)
	}
	return f[0], f[1], nil
}

// storageCapacity is each worker's capacity for volumes of StorageClass local, as its
// CSIStorageCapacity object says.
func storageCapacity(k *kubectl.Kubectl, ids []string) (map[string]int64, error) {
	out, err := k.Run("", "-n", "kube-system", "get", "csistoragecapacities", "-o", "json")
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []struct {
			StorageClassName string `json:"storageClassName"`
			Capacity         string `json:"capacity"`
			NodeTopology     struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"nodeTopology"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, err
	}
	caps := map[string]int64{}
	for _, c := range list.Items {
		node := c.NodeTopology.MatchLabels["local.metropolis.dev/node"]
		if c.StorageClassName != "local" || node == "" || c.Capacity == "" {
			continue
		}
		q, err := resource.ParseQuantity(c.Capacity)
		if err != nil {
			return nil, err
		}
		caps[node] = q.Value()
	}
	for _, id := range ids {
		if _, ok := caps[id]; !ok {
			return nil, fmt.Errorf("no capacity for StorageClass local on %s: %v", id, caps)
		}
	}
	return caps, nil
}

func mib(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		out[k] = v >> 20
	}
	return out
}

// summary is the part of the kubelet's stats summary these tests read.
type summary struct {
	Node struct {
		Fs struct {
			AvailableBytes int64 `json:"availableBytes"`
		} `json:"fs"`
	} `json:"node"`
	Pods []struct {
		PodRef struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"podRef"`
		Volume []struct {
			Name          string `json:"name"`
			CapacityBytes int64  `json:"capacityBytes"`
			UsedBytes     int64  `json:"usedBytes"`
		} `json:"volume"`
	} `json:"pods"`
}

func statsSummary(k *kubectl.Kubectl, node string) (*summary, error) {
	out, err := k.Run("", "get", "--raw", "/api/v1/nodes/"+node+"/proxy/stats/summary")
	if err != nil {
		return nil, err
	}
	var s summary
	return &s, json.Unmarshal([]byte(out), &s)
}

// nodeFSAvailable is what the kubelet reports free on the node's data partition.
func nodeFSAvailable(t *testing.T, k *kubectl.Kubectl, node string) int64 {
	s, err := statsSummary(k, node)
	if err != nil {
		t.Fatal(err)
	}
	return s.Node.Fs.AvailableBytes
}

// volumeStats is a pod volume's capacity and usage as the kubelet reports them.
func volumeStats(k *kubectl.Kubectl, node, namespace, pod, volume string) (capBytes, used int64, err error) {
	s, err := statsSummary(k, node)
	if err != nil {
		return 0, 0, err
	}
	for _, p := range s.Pods {
		if p.PodRef.Namespace != namespace || p.PodRef.Name != pod {
			continue
		}
		for _, v := range p.Volume {
			if v.Name == volume {
				return v.CapacityBytes, v.UsedBytes, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("no stats for volume %s of %s/%s yet", volume, namespace, pod)
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
