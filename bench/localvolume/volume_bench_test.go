package localvolume_bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"metropolis.dev/metropolis/node/kubernetes/localvolume"
	"metropolis.dev/metropolis/osbase/ext4fs"
	"metropolis.dev/metropolis/osbase/loopdev"
)

const writeSize = 64 << 20

// partition mounts a fresh ext4 file system of size bytes (a sparse file through a loop
// device), standing in for a node's data partition.
func partition(b *testing.B, size int64) string {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("loop devices and mounts need root")
	}
	dir := b.TempDir()
	img, mnt := filepath.Join(dir, "data.img"), filepath.Join(dir, "data")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		b.Fatal(err)
	}
	if err := ext4fs.Format(img, size, ext4fs.Params{Label: "bench-data"}); err != nil {
		b.Fatal(err)
	}
	mount(b, img, mnt)
	return mnt
}

// mount attaches the file at img and mounts its ext4 at mnt until the benchmark ends.
func mount(b *testing.B, img, mnt string) {
	dev, err := loopdev.Attach(img)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = loopdev.Detach(dev) })
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := unix.Mount(dev.Path, mnt, "ext4", 0, ""); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
}

// writeSynced writes writeSize bytes to a new file in dir and syncs it.
func writeSynced(b *testing.B, dir string, i int) {
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("w%d", i%2)))
	if err != nil {
		b.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{0x5a}, 1<<20)
	for n := 0; n < writeSize; n += len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSequentialWrite writes 64 MiB and syncs, onto the partition itself and into a
// 256 MiB volume on it: the difference is the loop layer's and the second ext4's cost.
func BenchmarkSequentialWrite(b *testing.B) {
	b.Run("partition", func(b *testing.B) {
		dir := partition(b, 2<<30)
		b.SetBytes(writeSize)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			writeSynced(b, dir, i)
		}
	})
	b.Run("volume", func(b *testing.B) {
		data := partition(b, 2<<30)
		img := filepath.Join(data, "vol.ext4")
		f, err := os.Create(img)
		if err != nil {
			b.Fatal(err)
		}
		if err := unix.Fallocate(int(f.Fd()), 0, 0, 256<<20); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if err := ext4fs.Format(img, 256<<20, ext4fs.Params{Label: "bench-volume"}); err != nil {
			b.Fatal(err)
		}
		vol := filepath.Join(b.TempDir(), "vol")
		mount(b, img, vol)
		b.SetBytes(writeSize)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			writeSynced(b, vol, i)
		}
	})
}

// BenchmarkCreateVolume makes and deletes a volume through the driver's gRPC API: what a
// claim waits for between scheduling and its PersistentVolume, besides the API round trips.
func BenchmarkCreateVolume(b *testing.B) {
	for _, size := range []int64{64 << 20, 1 << 30} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			data := partition(b, 8<<30)
			d := &localvolume.Driver{NodeID: "bench", Dir: filepath.Join(data, "volumes"), Version: "bench"}
			if err := d.Open(); err != nil {
				b.Fatal(err)
			}
			socket := filepath.Join(b.TempDir(), "csi.sock")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = d.Serve(ctx, socket) }()
			for i := 0; i < 100; i++ {
				if _, err := os.Stat(socket); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			ctl := csi.NewControllerClient(conn)
			capability := &csi.VolumeCapability{
				AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
				AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}},
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				name := fmt.Sprintf("pvc-%d", i)
				if _, err := ctl.CreateVolume(ctx, &csi.CreateVolumeRequest{
					Name: name, CapacityRange: &csi.CapacityRange{RequiredBytes: size},
					VolumeCapabilities: []*csi.VolumeCapability{capability},
				}, grpc.WaitForReady(true)); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := ctl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: name}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
