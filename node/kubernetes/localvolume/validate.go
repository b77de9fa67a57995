package localvolume

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sizes: volumes are whole MiB, at least minSize (room for ext4's journal and metadata), and
// at most maxSize: a request beyond it is a mistake, not a disk to look for.
const (
	sizeUnit = 1 << 20
	minSize  = 16 << 20
	maxSize  = 1 << 50
)

// volumeIDPattern is what a volume's name, which is also its ID and its file's name, may be:
// no path separators, no leading dot. The provisioner names volumes pvc-<UID>.
var volumeIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// parameterPrefix is the prefix of the parameters the external provisioner adds about the
// claim; they are accepted and ignored. Any other StorageClass parameter is refused, so a
// typo is not silently ignored.
const parameterPrefix = "csi.storage.k8s.io/"

// newVolume is a CreateVolume request checked: the volume to make.
type newVolume struct {
	ID    string
	Size  int64
	Block bool
}

// quoted bounds what an error echoes back of a caller's string.
func quoted(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q...", s[:64])
	}
	return fmt.Sprintf("%q", s)
}

// checkVolumeID refuses IDs that cannot name a volume of this driver.
func checkVolumeID(id string) error {
	if id == "" {
		return status.Error(codes.InvalidArgument, "volume ID missing")
	}
	if !volumeIDPattern.MatchString(id) {
		return status.Errorf(codes.NotFound, "volume %s: not a volume of %s (IDs are letters, digits, '_', '.', '-', at most 128)", quoted(id), DriverName)
	}
	return nil
}

// checkCreate decides what a CreateVolume request asks this node to make, or why it cannot:
// InvalidArgument for a malformed request, OutOfRange for a size outside what volumes can
// be, ResourceExhausted when the request requires another node.
func checkCreate(req *csi.CreateVolumeRequest, nodeID string) (newVolume, error) {
	if req.GetName() == "" {
		return newVolume{}, status.Error(codes.InvalidArgument, "volume name missing")
	}
	if !volumeIDPattern.MatchString(req.GetName()) {
		return newVolume{}, status.Errorf(codes.InvalidArgument, "volume name %s: only letters, digits, '_', '.', '-' (not first), at most 128", quoted(req.GetName()))
	}
	block, err := checkCapabilities(req.GetVolumeCapabilities())
	if err != nil {
		return newVolume{}, err
	}
	for key := range req.GetParameters() {
		if !strings.HasPrefix(key, parameterPrefix) {
			return newVolume{}, status.Errorf(codes.InvalidArgument, "StorageClass parameter %s: %s takes no parameters", quoted(key), DriverName)
		}
	}
	if req.GetVolumeContentSource() != nil {
		return newVolume{}, status.Error(codes.InvalidArgument, "volumes from snapshots or clones are not supported")
	}
	size, err := checkSize(req.GetCapacityRange())
	if err != nil {
		return newVolume{}, err
	}
	if err := checkTopology(req.GetAccessibilityRequirements(), nodeID); err != nil {
		return newVolume{}, err
	}
	return newVolume{ID: req.GetName(), Size: size, Block: block}, nil
}

// checkSize rounds a capacity range to the size to allocate.
func checkSize(r *csi.CapacityRange) (int64, error) {
	required, limit := r.GetRequiredBytes(), r.GetLimitBytes()
	if required < 0 || limit < 0 {
		return 0, status.Errorf(codes.InvalidArgument, "capacity range [%d, %d]: negative", required, limit)
	}
	if limit > 0 && required > limit {
		return 0, status.Errorf(codes.InvalidArgument, "capacity range: required %d bytes is above the limit %d", required, limit)
	}
	if required > maxSize {
		return 0, status.Errorf(codes.OutOfRange, "capacity %d bytes: volumes are at most %d bytes (1 PiB)", required, int64(maxSize))
	}
	size := (max(required, minSize) + sizeUnit - 1) / sizeUnit * sizeUnit
	if limit > 0 && size > limit {
		if limit < minSize {
			return 0, status.Errorf(codes.OutOfRange, "capacity limit %d bytes: volumes are at least %d bytes", limit, int64(minSize))
		}
		size = limit / sizeUnit * sizeUnit
		if size < required {
			size = limit // a limit not on a MiB boundary, with required close to it
		}
	}
	return size, nil
}

// checkCapabilities accepts what this driver can do for every capability asked: one node at a
// time, as ext4 or as a raw block device; it tells whether the volume is a block volume.
func checkCapabilities(caps []*csi.VolumeCapability) (block bool, err error) {
	if len(caps) == 0 {
		return false, status.Error(codes.InvalidArgument, "volume capabilities missing")
	}
	kinds := map[bool]bool{}
	for _, c := range caps {
		isBlock, err := checkCapability(c)
		if err != nil {
			return false, err
		}
		kinds[isBlock] = true
	}
	if len(kinds) > 1 {
		return false, status.Error(codes.InvalidArgument, "volume capabilities ask for both a block and a filesystem volume")
	}
	return kinds[true], nil
}

func checkCapability(c *csi.VolumeCapability) (block bool, err error) {
	switch m := c.GetAccessMode().GetMode(); m {
	case csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_MULTI_WRITER:
	case csi.VolumeCapability_AccessMode_UNKNOWN:
		return false, status.Error(codes.InvalidArgument, "volume capability: access mode missing")
	default:
		return false, status.Errorf(codes.InvalidArgument, "access mode %s: local volumes live on one node (ReadWriteOnce, ReadWriteOncePod, ReadOnlyMany is not)", m)
	}
	switch t := c.GetAccessType().(type) {
	case *csi.VolumeCapability_Block:
		return true, nil
	case *csi.VolumeCapability_Mount:
		if fs := t.Mount.GetFsType(); fs != "" && fs != "ext4" {
			return false, status.Errorf(codes.InvalidArgument, "file system %s: local volumes are ext4", quoted(fs))
		}
		if flags := t.Mount.GetMountFlags(); len(flags) > 0 {
			return false, status.Errorf(codes.InvalidArgument, "mount options %s: local volumes take none", quoted(strings.Join(flags, ",")))
		}
		return false, nil
	default:
		return false, status.Error(codes.InvalidArgument, "volume capability: access type (block or mount) missing")
	}
}

// checkTopology refuses requests that require a node other than this one.
func checkTopology(req *csi.TopologyRequirement, nodeID string) error {
	requisite := req.GetRequisite()
	if len(requisite) == 0 {
		return nil
	}
	for _, t := range requisite {
		if t.GetSegments()[TopologyKey] == nodeID {
			return nil
		}
	}
	return status.Errorf(codes.ResourceExhausted, "the request requires other nodes than %s, which makes only its own volumes", quoted(nodeID))
}
