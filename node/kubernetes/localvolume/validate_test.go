package localvolume

import (
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func mountCap(mode csi.VolumeCapability_AccessMode_Mode, fs string, flags ...string) *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: mode},
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{FsType: fs, MountFlags: flags}},
	}
}

func blockCap() *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
		AccessType: &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}},
	}
}

const rwo = csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER

func TestCheckCreate(t *testing.T) {
	const mib = 1 << 20
	base := func() *csi.CreateVolumeRequest {
		return &csi.CreateVolumeRequest{
			Name:               "pvc-1234",
			CapacityRange:      &csi.CapacityRange{RequiredBytes: 64 * mib},
			VolumeCapabilities: []*csi.VolumeCapability{mountCap(rwo, "")},
		}
	}
	for _, tc := range []struct {
		name     string
		change   func(*csi.CreateVolumeRequest)
		want     newVolume
		wantCode codes.Code
		wantText string
	}{
		{name: "a 64 MiB ext4 claim", change: func(*csi.CreateVolumeRequest) {}, want: newVolume{ID: "pvc-1234", Size: 64 * mib}},
		{name: "sizes round up to whole MiB", change: func(r *csi.CreateVolumeRequest) { r.CapacityRange.RequiredBytes = 64*mib + 1 }, want: newVolume{ID: "pvc-1234", Size: 65 * mib}},
		{name: "no size is the smallest volume", change: func(r *csi.CreateVolumeRequest) { r.CapacityRange = nil }, want: newVolume{ID: "pvc-1234", Size: minSize}},
		{name: "a limit caps the rounding", change: func(r *csi.CreateVolumeRequest) { r.CapacityRange.LimitBytes = 64*mib + 100 }, want: newVolume{ID: "pvc-1234", Size: 64 * mib}},
		{name: "a block volume", change: func(r *csi.CreateVolumeRequest) { r.VolumeCapabilities = []*csi.VolumeCapability{blockCap()} }, want: newVolume{ID: "pvc-1234", Size: 64 * mib, Block: true}},
		{name: "the provisioner's own parameters are accepted", change: func(r *csi.CreateVolumeRequest) {
			r.Parameters = map[string]string{"csi.storage.k8s.io/pvc/name": "data"}
		}, want: newVolume{ID: "pvc-1234", Size: 64 * mib}},
		{name: "this node required", change: func(r *csi.CreateVolumeRequest) {
			r.AccessibilityRequirements = &csi.TopologyRequirement{Requisite: []*csi.Topology{{Segments: map[string]string{TopologyKey: "other"}}, {Segments: map[string]string{TopologyKey: "node-a"}}}}
		}, want: newVolume{ID: "pvc-1234", Size: 64 * mib}},

		{name: "a name missing", change: func(r *csi.CreateVolumeRequest) { r.Name = "" }, wantCode: codes.InvalidArgument, wantText: "name missing"},
		{name: "a name with a slash", change: func(r *csi.CreateVolumeRequest) { r.Name = "../etc" }, wantCode: codes.InvalidArgument, wantText: `"../etc"`},
		{name: "a long name is echoed bounded", change: func(r *csi.CreateVolumeRequest) { r.Name = strings.Repeat("x", 1000) }, wantCode: codes.InvalidArgument, wantText: `"...`},
		{name: "an unknown StorageClass parameter", change: func(r *csi.CreateVolumeRequest) { r.Parameters = map[string]string{"fsType": "xfs"} }, wantCode: codes.InvalidArgument, wantText: `parameter "fsType"`},
		{name: "an absurd size", change: func(r *csi.CreateVolumeRequest) { r.CapacityRange.RequiredBytes = 1 << 60 }, wantCode: codes.OutOfRange, wantText: "at most"},
		{name: "a negative size", change: func(r *csi.CreateVolumeRequest) { r.CapacityRange.RequiredBytes = -1 }, wantCode: codes.InvalidArgument, wantText: "negative"},
		{name: "required above the limit", change: func(r *csi.CreateVolumeRequest) { r.CapacityRange.LimitBytes = mib }, wantCode: codes.InvalidArgument, wantText: "above the limit"},
		{name: "a limit below the smallest volume", change: func(r *csi.CreateVolumeRequest) { r.CapacityRange = &csi.CapacityRange{LimitBytes: mib} }, wantCode: codes.OutOfRange, wantText: "at least"},
		{name: "another file system", change: func(r *csi.CreateVolumeRequest) { r.VolumeCapabilities = []*csi.VolumeCapability{mountCap(rwo, "xfs")} }, wantCode: codes.InvalidArgument, wantText: "ext4"},
		{name: "mount options", change: func(r *csi.CreateVolumeRequest) {
			r.VolumeCapabilities = []*csi.VolumeCapability{mountCap(rwo, "", "noatime")}
		}, wantCode: codes.InvalidArgument, wantText: "noatime"},
		{name: "many nodes", change: func(r *csi.CreateVolumeRequest) {
			r.VolumeCapabilities = []*csi.VolumeCapability{mountCap(csi.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER, "")}
		}, wantCode: codes.InvalidArgument, wantText: "one node"},
		{name: "block and filesystem at once", change: func(r *csi.CreateVolumeRequest) {
			r.VolumeCapabilities = []*csi.VolumeCapability{mountCap(rwo, ""), blockCap()}
		}, wantCode: codes.InvalidArgument, wantText: "both"},
		{name: "no capabilities", change: func(r *csi.CreateVolumeRequest) { r.VolumeCapabilities = nil }, wantCode: codes.InvalidArgument, wantText: "capabilities missing"},
		{name: "no access mode", change: func(r *csi.CreateVolumeRequest) { r.VolumeCapabilities = []*csi.VolumeCapability{mountCap(0, "")} }, wantCode: codes.InvalidArgument, wantText: "access mode missing"},
		{name: "from a snapshot", change: func(r *csi.CreateVolumeRequest) { r.VolumeContentSource = &csi.VolumeContentSource{} }, wantCode: codes.InvalidArgument, wantText: "snapshots"},
		{name: "another node required", change: func(r *csi.CreateVolumeRequest) {
			r.AccessibilityRequirements = &csi.TopologyRequirement{Requisite: []*csi.Topology{{Segments: map[string]string{TopologyKey: "other"}}}}
		}, wantCode: codes.ResourceExhausted, wantText: "other nodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := base()
			tc.change(req)
			got, err := checkCreate(req, "node-a")
			if tc.wantCode != codes.OK {
				if status.Code(err) != tc.wantCode || !strings.Contains(err.Error(), tc.wantText) {
					t.Fatalf("checkCreate = %v, %v; want %s naming %q", got, err, tc.wantCode, tc.wantText)
				}
				if len(err.Error()) > 400 {
					t.Errorf("error of %d bytes echoes too much", len(err.Error()))
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("checkCreate = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// FuzzCheckCreate: no request makes the validator panic, and what it accepts is a volume
// this driver can make: a safe file name and a whole number of MiB within bounds.
func FuzzCheckCreate(f *testing.F) {
	f.Add("pvc-1", int64(64<<20), int64(0), "", "csi.storage.k8s.io/pvc/name")
	f.Add("../x", int64(-1), int64(5), "xfs", "fsType")
	f.Fuzz(func(t *testing.T, name string, required, limit int64, fs, param string) {
		req := &csi.CreateVolumeRequest{
			Name:               name,
			CapacityRange:      &csi.CapacityRange{RequiredBytes: required, LimitBytes: limit},
			VolumeCapabilities: []*csi.VolumeCapability{mountCap(rwo, fs)},
			Parameters:         map[string]string{param: "v"},
		}
		nv, err := checkCreate(req, "node-a")
		if err != nil {
			if len(err.Error()) > 600 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if !volumeIDPattern.MatchString(nv.ID) || strings.ContainsAny(nv.ID, "/\x00") {
			t.Fatalf("accepted volume ID %q", nv.ID)
		}
		if nv.Size < minSize || nv.Size > maxSize || (nv.Size%sizeUnit != 0 && nv.Size != limit) || nv.Size < required {
			t.Fatalf("accepted size %d for [%d, %d]", nv.Size, required, limit)
		}
	})
}
