package nodemgmt

import (
	"crypto/sha256"
	"errors"
	"io"
	"os"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/rpc"
	"metropolis.dev/metropolis/node/update"
)

// BundleSource opens the rollout bundles this node keeps (node/update.Keeper satisfies it).
type BundleSource interface {
	// Open opens the bundle with this SHA-256, with its size; errors wrap update.ErrNotKept
	// if the node does not keep it.
	Open(sum []byte) (*os.File, int64, error)
}

// fetchChunk is the size of one FetchBundle message: well under gRPC's message limit, and
// large enough that a 150 MB bundle is a few hundred messages.
const fetchChunk = 512 << 10

// FetchBundle implements apb.NodeManagementServer: stream a kept bundle to another node.
// Only node certificates reach it (PERMISSION_FETCH_BUNDLE), and only nodes this node knows
// as UP in its cluster (the server's node check).
func (s *Server) FetchBundle(req *apb.FetchBundleRequest, srv apb.NodeManagement_FetchBundleServer) error {
	if s.cfg.Bundles == nil {
		return status.Error(codes.NotFound, "this node keeps no bundles: it has no system slots")
	}
	if len(req.GetSha256()) != sha256.Size {
		return status.Errorf(codes.InvalidArgument, "sha256: %d bytes, not %d", len(req.GetSha256()), sha256.Size)
	}
	f, size, err := s.cfg.Bundles.Open(req.GetSha256())
	if errors.Is(err, update.ErrNotKept) {
		return status.Errorf(codes.NotFound, "%v", err)
	}
	if err != nil {
		return status.Errorf(codes.Unavailable, "open the bundle: %v", err)
	}
	defer f.Close()
	caller := "a node"
	if p, err := rpc.PeerFromContext(srv.Context()); err == nil {
		caller = "node " + p.Name
	}
	s.cfg.Logger.Infof("sending bundle %x (%d MiB) to %s", req.GetSha256()[:8], size>>20, caller)
	buf := make([]byte, fetchChunk)
	first := true
	for {
		n, err := f.Read(buf)
		if n > 0 {
			msg := &apb.FetchBundleResponse{Chunk: buf[:n]}
			if first {
				msg.Size, first = size, false
			}
			if err := srv.Send(msg); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return status.Errorf(codes.Unavailable, "read the bundle: %v", err)
		}
	}
}
