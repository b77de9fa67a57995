package nodemgmt

import (
	"context"
	"errors"
	"io/fs"

	"github.com/prometheus/procfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
)

// GetMemory reports /proc/meminfo and the pressure stall information.
func (s *Server) GetMemory(_ context.Context, _ *apb.GetMemoryRequest) (*apb.GetMemoryResponse, error) {
	pfs, err := s.procFS()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "open the proc filesystem: %v", err)
	}
	mi, err := pfs.Meminfo()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "read /proc/meminfo: %v", err)
	}
	res := &apb.GetMemoryResponse{
		TotalBytes: value(mi.MemTotalBytes), AvailableBytes: value(mi.MemAvailableBytes), FreeBytes: value(mi.MemFreeBytes),
		BuffersBytes: value(mi.BuffersBytes), CachedBytes: value(mi.CachedBytes),
		SwapTotalBytes: value(mi.SwapTotalBytes), SwapFreeBytes: value(mi.SwapFreeBytes),
	}
	for resource, dst := range map[string]**apb.Pressure{"cpu": &res.CpuPressure, "memory": &res.MemoryPressure, "io": &res.IoPressure} {
		psi, err := pfs.PSIStatsForResource(resource)
		if errors.Is(err, fs.ErrNotExist) {
			continue // a kernel without PSI
		}
		if err != nil {
			return nil, status.Errorf(codes.Internal, "read /proc/pressure/%s: %v", resource, err)
		}
		*dst = &apb.Pressure{Some: stall(psi.Some), Full: stall(psi.Full)}
	}
	return res, nil
}

func value(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

func stall(l *procfs.PSILine) *apb.PressureStall {
	if l == nil {
		return nil
	}
	return &apb.PressureStall{Avg10: l.Avg10, Avg60: l.Avg60, Avg300: l.Avg300, TotalMicroseconds: l.Total}
}
