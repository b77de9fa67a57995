package localvolume

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	registration "k8s.io/kubelet/pkg/apis/pluginregistration/v1"

	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/osbase/ext4fs"
	"metropolis.dev/metropolis/osbase/loopdev"
)

// testReserve is what the test data partitions keep for the node.
const testReserve = 64 << 20

// startDriver serves a driver whose volumes live on a data partition of its own (a 1 GiB
// ext4 file system in a loop-mounted file, so the host's other users do not change its free
// space), on a socket in a temporary directory.
func startDriver(t *testing.T) (*Driver, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("publishing volumes mounts them: needs root")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skipf("no loop devices here: %v", err)
	}
	dir := t.TempDir()
	d := &Driver{NodeID: "node-a", Dir: filepath.Join(mountDataPartition(t, dir, 1<<30), "volumes"), Version: "test"}
	if err := d.Open(); err != nil {
		t.Fatal(err)
	}
	d.vols.reserve = func(int64) int64 { return testReserve }
	socket := filepath.Join(dir, "csi.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, socket) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve ended with %v", err)
		}
	})
	eventually.Pass(t, 10*time.Second, "the driver's socket", func(context.Context) error {
		_, err := os.Stat(socket)
		return err
	})
	return d, socket
}

// mountDataPartition mounts a new ext4 file system of size bytes in dir and returns where.
func mountDataPartition(t *testing.T, dir string, size int64) string {
	img, mnt := filepath.Join(dir, "data.img"), filepath.Join(dir, "data")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if err := ext4fs.Format(img, size, ext4fs.Params{Label: "test-data"}); err != nil {
		t.Fatal(err)
	}
	dev, err := loopdev.Attach(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = loopdev.Detach(dev) })
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dev.Path, mnt, "ext4", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	return mnt
}

func dial(t *testing.T, socket string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestSanity runs the CSI community's conformance suite (kubernetes-csi/csi-test) against
// the driver: every call of the three services, idempotency, and the errors the spec asks for.
func TestSanity(t *testing.T) {
	_, socket := startDriver(t)
	cfg := sanity.NewTestConfig()
	cfg.Address = socket
	cfg.TargetPath = filepath.Join(t.TempDir(), "target")
	cfg.StagingPath = filepath.Join(t.TempDir(), "staging")
	cfg.TestVolumeSize = 64 << 20
	cfg.TestVolumeExpandSize = 128 << 20
	cfg.IdempotentCount = 2
	sc := sanity.GinkgoTest(&cfg)
	defer sc.Finalize()
	suite, reporter := ginkgo.GinkgoConfiguration()
	if !hasCapSysResource() {
		// Growing a published file system is the kernel's online resize, for holders of
		// CAP_SYS_RESOURCE: nodes, not every host's root. The VM tests grow volumes.
		t.Log("no CAP_SYS_RESOURCE on this host: leaving out the suite's node expansion after publishing")
		suite.SkipStrings = append(suite.SkipStrings, "node-expand is called after node-publish")
	}
	gomega.RegisterFailHandler(ginkgo.Fail)
	ginkgo.RunSpecs(t, "CSI sanity of "+DriverName, suite, reporter)
}

// A volume's life through the driver as the kubelet and provisioner drive it: made, published,
// filled to its size and no further, grown while in use, unpublished, deleted; the node's
// capacity follows.
func TestVolumeLife(t *testing.T) {
	_, socket := startDriver(t)
	conn := dial(t, socket)
	ctl, node := csi.NewControllerClient(conn), csi.NewNodeClient(conn)
	ctx := context.Background()
	capacity := func() int64 {
		resp, err := ctl.GetCapacity(ctx, &csi.GetCapacityRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetAvailableCapacity()
	}
	before := capacity()
	created, err := ctl.CreateVolume(ctx, &csi.CreateVolumeRequest{
		Name:               "pvc-life",
		CapacityRange:      &csi.CapacityRange{RequiredBytes: 64 << 20},
		VolumeCapabilities: []*csi.VolumeCapability{mountCap(rwo, "")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := created.GetVolume().GetAccessibleTopology()[0].GetSegments()[TopologyKey]; got != "node-a" {
		t.Errorf("volume's topology names %q, want node-a", got)
	}
	if used := before - capacity(); used != 64<<20 {
		t.Errorf("a 64 MiB volume took %d bytes of capacity", used)
	}
	target := filepath.Join(t.TempDir(), "pod", "mount")
	publish := &csi.NodePublishVolumeRequest{VolumeId: "pvc-life", TargetPath: target, VolumeCapability: mountCap(rwo, "")}
	for i := 0; i < 2; i++ { // publishing again is no change
		if _, err := node.NodePublishVolume(ctx, publish); err != nil {
			t.Fatalf("publish #%d: %v", i+1, err)
		}
	}
	if _, err := ctl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: "pvc-life"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("deleting a published volume: %v, want FailedPrecondition", err)
	}

	if err := writeMiB(filepath.Join(target, "data"), 80); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("writing 80 MiB into a 64 MiB volume: %v, want ENOSPC", err)
	}
	stats, err := node.NodeGetVolumeStats(ctx, &csi.NodeGetVolumeStatsRequest{VolumeId: "pvc-life", VolumePath: target})
	if err != nil {
		t.Fatal(err)
	}
	if u := stats.GetUsage()[0]; u.GetTotal() > 64<<20 || u.GetUsed() < 50<<20 {
		t.Errorf("a full 64 MiB volume reports %d of %d bytes used", u.GetUsed(), u.GetTotal())
	}

	grown, err := ctl.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: "pvc-life", CapacityRange: &csi.CapacityRange{RequiredBytes: 128 << 20}})
	if err != nil || grown.GetCapacityBytes() != 128<<20 || !grown.GetNodeExpansionRequired() {
		t.Fatalf("ControllerExpandVolume = %v, %v", grown, err)
	}
	_, err = node.NodeExpandVolume(ctx, &csi.NodeExpandVolumeRequest{VolumeId: "pvc-life", VolumePath: target, CapacityRange: &csi.CapacityRange{RequiredBytes: 128 << 20}})
	switch {
	case err == nil:
		if err := writeMiB(filepath.Join(target, "data"), 80); err != nil {
			t.Fatalf("writing 80 MiB after growing to 128 MiB: %v", err)
		}
	case hasCapSysResource():
		t.Fatalf("NodeExpandVolume: %v", err)
	default:
		t.Logf("no CAP_SYS_RESOURCE on this host, online growth left to the VM tests: %v", err)
	}

	if _, err := node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "pvc-life", TargetPath: target}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after unpublishing, the target: %v, want gone", err)
	}
	if _, err := ctl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: "pvc-life"}); err != nil {
		t.Fatal(err)
	}
	if after := capacity(); after != before {
		t.Errorf("after deleting the volume, capacity is %d bytes, was %d", after, before)
	}
}

// Volumes never take the node's reserve: a claim of all that is available fits, one more
// MiB does not, and the refusal says what is left.
func TestReserveIsKept(t *testing.T) {
	_, socket := startDriver(t)
	ctl := csi.NewControllerClient(dial(t, socket))
	ctx := context.Background()
	resp, err := ctl.GetCapacity(ctx, &csi.GetCapacityRequest{})
	if err != nil {
		t.Fatal(err)
	}
	available := resp.GetAvailableCapacity()
	if available <= 0 || available > 1<<30-testReserve {
		t.Fatalf("a 1 GiB partition with a %d byte reserve offers %d bytes", testReserve, available)
	}
	create := func(name string, size int64) error {
		_, err := ctl.CreateVolume(ctx, &csi.CreateVolumeRequest{
			Name:               name,
			CapacityRange:      &csi.CapacityRange{RequiredBytes: size},
			VolumeCapabilities: []*csi.VolumeCapability{blockCap()},
		})
		return err
	}
	if err := create("too-big", available+1<<20); status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "for itself") {
		t.Fatalf("a volume beyond what is available: %v, want ResourceExhausted naming the reserve", err)
	}
	if err := create("all-of-it", available); err != nil {
		t.Fatalf("a volume of all that is available: %v", err)
	}
	if got, err := ctl.GetCapacity(ctx, &csi.GetCapacityRequest{}); err != nil || got.GetAvailableCapacity() != 0 {
		t.Errorf("after taking all of it, capacity = %v, %v; want 0", got, err)
	}
	// A request for another node is nothing here.
	other, err := ctl.GetCapacity(ctx, &csi.GetCapacityRequest{AccessibleTopology: &csi.Topology{Segments: map[string]string{TopologyKey: "node-b"}}})
	if err != nil || other.GetAvailableCapacity() != 0 {
		t.Errorf("capacity for node-b on node-a = %v, %v; want 0", other, err)
	}
}

func writeMiB(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{0xa5}, 1<<20)
	for i := 0; i < n; i++ {
		if _, err := f.Write(chunk); err != nil {
			return err
		}
	}
	return f.Sync()
}

func hasCapSysResource() bool {
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[0].Effective&(1<<unix.CAP_SYS_RESOURCE) != 0
}

// The kubelet's side of plugin registration: it learns the driver's name and socket, and
// its verdict reaches the node.
func TestRegistration(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "plugins_registry", DriverName+"-reg.sock")
	verdicts := make(chan error, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = ServeRegistration(ctx, socket, "/plugins/csi.sock", func(err error) { verdicts <- err }) }()
	conn := dial(t, socket)
	client := registration.NewRegistrationClient(conn)
	info, err := client.GetInfo(ctx, &registration.InfoRequest{}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	if info.GetType() != registration.CSIPlugin || info.GetName() != DriverName || info.GetEndpoint() != "/plugins/csi.sock" {
		t.Errorf("GetInfo = %v", info)
	}
	if _, err := client.NotifyRegistrationStatus(ctx, &registration.RegistrationStatus{PluginRegistered: false, Error: "version 9 unsupported"}); err != nil {
		t.Fatal(err)
	}
	if err := <-verdicts; err == nil || !bytes.Contains([]byte(err.Error()), []byte("version 9 unsupported")) {
		t.Errorf("a refusal reached the node as %v", err)
	}
	if _, err := client.NotifyRegistrationStatus(ctx, &registration.RegistrationStatus{PluginRegistered: true}); err != nil {
		t.Fatal(err)
	}
	if err := <-verdicts; err != nil {
		t.Errorf("a registration reached the node as %v", err)
	}
}
