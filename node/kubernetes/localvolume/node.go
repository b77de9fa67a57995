package localvolume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"metropolis.dev/metropolis/osbase/ext4fs"
	"metropolis.dev/metropolis/osbase/loopdev"
)

// nodeServer hands volumes to pods: the kubelet asks it to publish a volume at a path in the
// pod's directory (a mounted file system, or the block device bound onto a file) and to take
// it away again, for the volume's usage, and to grow a volume in use.
type nodeServer struct {
	csi.UnimplementedNodeServer
	d *Driver
}

func (s nodeServer) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{
		NodeId:             s.d.NodeID,
		AccessibleTopology: &csi.Topology{Segments: map[string]string{TopologyKey: s.d.NodeID}},
	}, nil
}

func (nodeServer) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	var caps []*csi.NodeServiceCapability
	for _, t := range []csi.NodeServiceCapability_RPC_Type{
		csi.NodeServiceCapability_RPC_GET_VOLUME_STATS,
		csi.NodeServiceCapability_RPC_EXPAND_VOLUME,
		csi.NodeServiceCapability_RPC_SINGLE_NODE_MULTI_WRITER,
	} {
		caps = append(caps, &csi.NodeServiceCapability{Type: &csi.NodeServiceCapability_Rpc{Rpc: &csi.NodeServiceCapability_RPC{Type: t}}})
	}
	return &csi.NodeGetCapabilitiesResponse{Capabilities: caps}, nil
}

// checkTarget refuses a missing or relative target path.
func checkTarget(path string) error {
	if path == "" {
		return status.Error(codes.InvalidArgument, "target path missing")
	}
	if !filepath.IsAbs(path) {
		return status.Errorf(codes.InvalidArgument, "target path %s is not absolute", quoted(path))
	}
	return nil
}

// NodePublishVolume attaches the volume's file to a loop device (or uses the one it is
// attached to) and mounts it at the target path, or binds the device onto it for a block
// volume. Publishing again what is already published succeeds.
func (s nodeServer) NodePublishVolume(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	if err := checkVolumeID(req.GetVolumeId()); err != nil {
		return nil, err
	}
	target := req.GetTargetPath()
	if err := checkTarget(target); err != nil {
		return nil, err
	}
	if req.GetVolumeCapability() == nil {
		return nil, status.Error(codes.InvalidArgument, "volume capability missing")
	}
	block, err := checkCapability(req.GetVolumeCapability())
	if err != nil {
		return nil, err
	}
	s.d.vols.mu.Lock()
	defer s.d.vols.mu.Unlock()
	vol, err := s.d.vols.lookup(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	if block != vol.Block {
		return nil, status.Errorf(codes.InvalidArgument, "volume %s is %s, asked for as %s", vol.ID, kindName(vol.Block), kindName(block))
	}
	if mounted, _ := mountinfo.Mounted(target); mounted {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	dev, attached, err := attachOnce(vol)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "publish volume %s: %v", vol.ID, err)
	}
	if req.GetVolumeCapability().GetAccessMode().GetMode() == csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER && !attached {
		if at, err := publishedAt(dev); err != nil || len(at) > 0 {
			return nil, status.Errorf(codes.FailedPrecondition, "volume %s is for a single pod (ReadWriteOncePod) and published already at %v (%v)", vol.ID, at, err)
		}
	}
	if err := mountVolume(vol, dev, target, req.GetReadonly()); err != nil {
		if attached {
			_ = loopdev.Detach(dev)
		}
		return nil, status.Errorf(codes.Internal, "publish volume %s at %s: %v", vol.ID, target, err)
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

// attachOnce finds the loop device the volume's file is attached to, or attaches it.
func attachOnce(vol volume) (dev loopdev.Device, attached bool, err error) {
	devs, err := loopdev.Find(vol.Path)
	if err != nil {
		return loopdev.Device{}, false, err
	}
	if len(devs) > 0 {
		return devs[0], false, nil
	}
	dev, err = loopdev.Attach(vol.Path)
	return dev, err == nil, err
}

// publishedAt lists where the loop device is mounted: as a file system, or bound onto a
// file for a block volume (which the mount table shows as the device file's path within
// devtmpfs).
func publishedAt(dev loopdev.Device) ([]string, error) {
	name := filepath.Base(dev.Path)
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return !(m.Source == dev.Path || (m.FSType == "devtmpfs" && m.Root == "/"+name)), false
	})
	if err != nil {
		return nil, err
	}
	var at []string
	for _, m := range mounts {
		at = append(at, m.Mountpoint)
	}
	return at, nil
}

func mountVolume(vol volume, dev loopdev.Device, target string, readonly bool) error {
	var flags uintptr = unix.MS_NOSUID | unix.MS_NODEV
	if readonly {
		flags |= unix.MS_RDONLY
	}
	if vol.Block {
		f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o600)
		if err != nil {
			return err
		}
		f.Close()
		if err := unix.Mount(dev.Path, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", dev.Path, err)
		}
		if readonly {
			return unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
		}
		return nil
	}
	if err := os.MkdirAll(target, 0o750); err != nil {
		return err
	}
	if err := unix.Mount(dev.Path, target, "ext4", flags, ""); err != nil {
		return fmt.Errorf("mount %s (ext4): %w", dev.Path, err)
	}
	if readonly {
		return nil
	}
	// A volume grown while no pod used it has a file system smaller than its device.
	fsSize, err := ext4fs.Size(dev.Path)
	if err == nil && fsSize < vol.Size {
		err = ext4fs.Grow(target, vol.Size)
	}
	if err != nil {
		_ = unix.Unmount(target, 0)
		return err
	}
	return nil
}

// NodeUnpublishVolume unmounts the target path and removes it, then lets the volume's loop
// device go (the kernel keeps it until its last other mount is gone). Taking away what is not
// published succeeds.
func (s nodeServer) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	if err := checkVolumeID(req.GetVolumeId()); err != nil {
		return nil, err
	}
	target := req.GetTargetPath()
	if err := checkTarget(target); err != nil {
		return nil, err
	}
	s.d.vols.mu.Lock()
	defer s.d.vols.mu.Unlock()
	if err := unmountTarget(target); err != nil {
		return nil, status.Errorf(codes.Internal, "unpublish volume %s from %s: %v", req.GetVolumeId(), target, err)
	}
	vol, err := s.d.vols.lookup(req.GetVolumeId())
	if status.Code(err) == codes.NotFound {
		return &csi.NodeUnpublishVolumeResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	devs, err := loopdev.Find(vol.Path)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "unpublish volume %s: %v", vol.ID, err)
	}
	for _, dev := range devs {
		if err := loopdev.Detach(dev); err != nil {
			return nil, status.Errorf(codes.Internal, "unpublish volume %s: %v", vol.ID, err)
		}
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

func unmountTarget(target string) error {
	mounted, err := mountinfo.Mounted(target)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if mounted {
		if err := unix.Unmount(target, 0); err != nil {
			return err
		}
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// NodeGetVolumeStats reports a published volume's usage (the kubelet's
// kubelet_volume_stats_* and `kubectl describe pvc`).
func (s nodeServer) NodeGetVolumeStats(_ context.Context, req *csi.NodeGetVolumeStatsRequest) (*csi.NodeGetVolumeStatsResponse, error) {
	path := req.GetVolumePath()
	if path == "" {
		return nil, status.Error(codes.InvalidArgument, "volume path missing")
	}
	vol, err := s.d.vols.lookup(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	mounted, err := mountinfo.Mounted(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, status.Errorf(codes.NotFound, "volume path %s does not exist", quoted(path))
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "volume path %s: %v", quoted(path), err)
	}
	if !mounted {
		return nil, status.Errorf(codes.NotFound, "volume %s is not published at %s", vol.ID, quoted(path))
	}
	if vol.Block {
		return &csi.NodeGetVolumeStatsResponse{
			Usage: []*csi.VolumeUsage{{Unit: csi.VolumeUsage_BYTES, Total: vol.Size}},
		}, nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return nil, status.Errorf(codes.Internal, "usage of volume %s: %v", vol.ID, err)
	}
	bs := st.Bsize
	return &csi.NodeGetVolumeStatsResponse{
		Usage: []*csi.VolumeUsage{
			{Unit: csi.VolumeUsage_BYTES, Total: int64(st.Blocks) * bs, Available: int64(st.Bavail) * bs, Used: int64(st.Blocks-st.Bfree) * bs},
			{Unit: csi.VolumeUsage_INODES, Total: int64(st.Files), Available: int64(st.Ffree), Used: int64(st.Files - st.Ffree)},
		},
	}, nil
}

// NodeExpandVolume makes a published volume's loop device, then its file system, take the
// size its file was grown to (ControllerExpandVolume), while the pod keeps using it.
func (s nodeServer) NodeExpandVolume(_ context.Context, req *csi.NodeExpandVolumeRequest) (*csi.NodeExpandVolumeResponse, error) {
	if req.GetVolumePath() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume path missing")
	}
	s.d.vols.mu.Lock()
	defer s.d.vols.mu.Unlock()
	vol, err := s.d.vols.lookup(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	if want := req.GetCapacityRange().GetRequiredBytes(); want > vol.Size {
		return nil, status.Errorf(codes.FailedPrecondition, "volume %s holds %d bytes, %d asked: grow it through the controller first", vol.ID, vol.Size, want)
	}
	devs, err := loopdev.Find(vol.Path)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "grow volume %s: %v", vol.ID, err)
	}
	if len(devs) == 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "grow volume %s: not published on this node", vol.ID)
	}
	for _, dev := range devs {
		if err := loopdev.Grow(dev); err != nil {
			return nil, status.Errorf(codes.Internal, "grow volume %s: %v", vol.ID, err)
		}
	}
	if !vol.Block {
		if err := ext4fs.Grow(req.GetVolumePath(), vol.Size); err != nil {
			return nil, status.Errorf(codes.Internal, "grow volume %s: %v", vol.ID, err)
		}
	}
	return &csi.NodeExpandVolumeResponse{CapacityBytes: vol.Size}, nil
}
