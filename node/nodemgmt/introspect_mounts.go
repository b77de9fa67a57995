package nodemgmt

import (
	"context"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
)

// GetMounts lists the node program's mounts (those of the node: it runs in the initial mount
// namespace) with the use of each filesystem. A mount whose statfs fails (gone meanwhile) is
// listed without sizes.
func (s *Server) GetMounts(_ context.Context, _ *apb.GetMountsRequest) (*apb.GetMountsResponse, error) {
	pfs, err := s.procFS()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "open the proc filesystem: %v", err)
	}
	self, err := pfs.Self()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "find the node program in /proc: %v", err)
	}
	infos, err := self.MountInfo()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "read mountinfo: %v", err)
	}
	res := &apb.GetMountsResponse{}
	for _, mi := range infos {
		_, ro := mi.Options["ro"]
		m := &apb.Mount{MountPoint: mi.MountPoint, Source: mi.Source, Filesystem: mi.FSType, ReadOnly: ro}
		var st unix.Statfs_t
		if unix.Statfs(mi.MountPoint, &st) == nil {
			bs := uint64(st.Bsize)
			m.SizeBytes, m.FreeBytes, m.AvailableBytes = st.Blocks*bs, st.Bfree*bs, st.Bavail*bs
			m.Inodes, m.InodesFree = st.Files, st.Ffree
		}
		res.Mounts = append(res.Mounts, m)
	}
	return res, nil
}
