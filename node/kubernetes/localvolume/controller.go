package localvolume

import (
	"context"
	"strconv"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// controllerServer makes, grows and deletes this node's volumes, and says how much room is
// left. It runs on every worker for that worker alone: volumes cannot move between nodes.
type controllerServer struct {
	csi.UnimplementedControllerServer
	d *Driver
}

func (s controllerServer) topology() []*csi.Topology {
	return []*csi.Topology{{Segments: map[string]string{TopologyKey: s.d.NodeID}}}
}

func (s controllerServer) CreateVolume(_ context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	nv, err := checkCreate(req, s.d.NodeID)
	if err != nil {
		return nil, err
	}
	vol, err := s.d.vols.create(nv, req.GetCapacityRange())
	if err != nil {
		return nil, err
	}
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{
		VolumeId:           vol.ID,
		CapacityBytes:      vol.Size,
		AccessibleTopology: s.topology(),
	}}, nil
}

func (s controllerServer) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume ID missing")
	}
	if !volumeIDPattern.MatchString(req.GetVolumeId()) {
		// Not an ID this driver hands out, so no such volume: deleted, as far as the caller
		// can tell (the spec's answer for volumes that do not exist).
		return &csi.DeleteVolumeResponse{}, nil
	}
	if err := s.d.vols.delete(req.GetVolumeId()); err != nil {
		return nil, err
	}
	return &csi.DeleteVolumeResponse{}, nil
}

func (s controllerServer) ControllerExpandVolume(_ context.Context, req *csi.ControllerExpandVolumeRequest) (*csi.ControllerExpandVolumeResponse, error) {
	if err := checkVolumeID(req.GetVolumeId()); err != nil {
		return nil, err
	}
	if req.GetCapacityRange() == nil {
		return nil, status.Error(codes.InvalidArgument, "capacity range missing")
	}
	size, err := checkSize(req.GetCapacityRange())
	if err != nil {
		return nil, err
	}
	vol, err := s.d.vols.expand(req.GetVolumeId(), size)
	if err != nil {
		return nil, err
	}
	return &csi.ControllerExpandVolumeResponse{CapacityBytes: vol.Size, NodeExpansionRequired: true}, nil
}

func (s controllerServer) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	vol, err := s.d.vols.lookup(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	block, err := checkCapabilities(req.GetVolumeCapabilities())
	if status.Code(err) == codes.InvalidArgument && len(req.GetVolumeCapabilities()) > 0 {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: status.Convert(err).Message()}, nil
	}
	if err != nil {
		return nil, err
	}
	if block != vol.Block {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: "volume " + vol.ID + " is " + kindName(vol.Block) + ", not " + kindName(block)}, nil
	}
	for key := range req.GetParameters() {
		if !strings.HasPrefix(key, parameterPrefix) {
			return &csi.ValidateVolumeCapabilitiesResponse{Message: "parameter " + quoted(key) + ": " + DriverName + " takes no parameters"}, nil
		}
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeCapabilities: req.GetVolumeCapabilities(),
		Parameters:         req.GetParameters(),
	}}, nil
}

func kindName(block bool) string {
	if block {
		return "a block volume"
	}
	return "a filesystem volume"
}

// GetCapacity is what this node can still hold: its free space beyond its reserve. Asked for
// another node's topology, it is nothing.
func (s controllerServer) GetCapacity(_ context.Context, req *csi.GetCapacityRequest) (*csi.GetCapacityResponse, error) {
	if seg := req.GetAccessibleTopology().GetSegments(); seg != nil && seg[TopologyKey] != s.d.NodeID {
		return &csi.GetCapacityResponse{}, nil
	}
	if len(req.GetVolumeCapabilities()) > 0 {
		if _, err := checkCapabilities(req.GetVolumeCapabilities()); err != nil {
			return &csi.GetCapacityResponse{}, nil
		}
	}
	_, available, err := s.d.vols.space()
	if err != nil {
		return nil, err
	}
	available = available / sizeUnit * sizeUnit
	return &csi.GetCapacityResponse{
		AvailableCapacity: available,
		MaximumVolumeSize: wrapperspb.Int64(available),
		MinimumVolumeSize: wrapperspb.Int64(minSize),
	}, nil
}

// ListVolumes lists this node's volumes, all in one page: a node holds few.
func (s controllerServer) ListVolumes(_ context.Context, req *csi.ListVolumesRequest) (*csi.ListVolumesResponse, error) {
	vols, err := s.d.vols.list()
	if err != nil {
		return nil, err
	}
	start := 0
	if tok := req.GetStartingToken(); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(vols) {
			return nil, status.Errorf(codes.Aborted, "starting token %s: not one this driver gave", quoted(tok))
		}
		start = n
	}
	end := len(vols)
	if m := int(req.GetMaxEntries()); m > 0 && start+m < end {
		end = start + m
	}
	resp := &csi.ListVolumesResponse{}
	for _, v := range vols[start:end] {
		resp.Entries = append(resp.Entries, &csi.ListVolumesResponse_Entry{Volume: &csi.Volume{
			VolumeId: v.ID, CapacityBytes: v.Size, AccessibleTopology: s.topology(),
		}})
	}
	if end < len(vols) {
		resp.NextToken = strconv.Itoa(end)
	}
	return resp, nil
}

func (controllerServer) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, t := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_GET_CAPACITY,
		csi.ControllerServiceCapability_RPC_EXPAND_VOLUME,
		csi.ControllerServiceCapability_RPC_LIST_VOLUMES,
		csi.ControllerServiceCapability_RPC_SINGLE_NODE_MULTI_WRITER,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: t}}})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}
