package nodemgmt

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/node/update/bundle"
	"metropolis.dev/metropolis/osbase/logtree"
)

// Updater installs release bundles (node/update.Service satisfies it).
type Updater interface {
	Install(ctx context.Context, r io.Reader, target string, log logtree.LeveledLogger) (*apb.BundleManifest, string, error)
	Current() *apb.NodeSoftware
}

// maxBundleSize bounds an UpdateNode upload: both parts at their largest, and room for the
// manifest, signature and tar headers.
const maxBundleSize = bundle.MaxUKISize + bundle.MaxSystemSize + 1<<20

// UpdateNode implements apb.NodeManagementServer: the bundle streams straight into the
// installer, which checks the signature before it writes anything.
func (s *Server) UpdateNode(stream grpc.ClientStreamingServer[apb.UpdateNodeRequest, apb.UpdateNodeResponse]) error {
	ctx := stream.Context()
	if s.cfg.Updates == nil {
		return status.Error(codes.FailedPrecondition, "this node cannot install updates: it does not run from a Metropolis disk image (a hosted node has no system slots)")
	}
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return status.Error(codes.InvalidArgument, "the upload ended before its metadata message: send an UpdateNodeMetadata first, then the bundle")
	}
	if err != nil {
		return err
	}
	meta := first.GetMetadata()
	switch {
	case meta == nil:
		return status.Error(codes.InvalidArgument, "the first message carries no metadata: send an UpdateNodeMetadata first, then the bundle")
	case meta.GetSize() < 0 || meta.GetSize() > maxBundleSize:
		return status.Errorf(codes.InvalidArgument, "metadata.size is %d; a bundle is 1 to %d bytes", meta.GetSize(), int64(maxBundleSize))
	}
	started := time.Now()
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(copyUpload(stream, meta.GetSize(), pw))
	}()
	m, slot, err := s.cfg.Updates.Install(ctx, pr, "", s.cfg.Logger)
	// Stop the receiver if the installer ended early (a refused bundle).
	pr.CloseWithError(errors.New("the installer is done"))
	var st *status.Status
	switch {
	case err == nil:
	case errors.Is(err, update.ErrBusy):
		st = status.New(codes.Aborted, "another update of this node is in progress; try again when it is done")
	case errors.Is(err, update.ErrUnsupported):
		st = status.Newf(codes.FailedPrecondition, "%v", err)
	case errors.Is(err, update.ErrRefused):
		st = status.Newf(codes.InvalidArgument, "%v", err)
	case ctx.Err() != nil:
		st = status.FromContextError(ctx.Err())
	default:
		if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
			st = s
		} else {
			st = status.Newf(codes.Internal, "installing the bundle: %v", err)
		}
	}
	if st != nil {
		s.cfg.Logger.Warningf("UpdateNode: refused or failed after %s: %v", time.Since(started).Round(time.Millisecond), st.Message())
		return st.Err()
	}
	s.cfg.Logger.Infof("UpdateNode: release %s (build %s) staged in slot %s in %s", m.Version, m.BuildId, slot, time.Since(started).Round(time.Millisecond))
	return stream.SendAndClose(&apb.UpdateNodeResponse{Installed: m, Slot: slot})
}

// copyUpload writes the upload's chunks to w until the client closes its side, holding it to
// the declared size and the limit.
func copyUpload(stream grpc.ClientStreamingServer[apb.UpdateNodeRequest, apb.UpdateNodeResponse], declared int64, w io.Writer) error {
	var size int64
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if msg.GetMetadata() != nil {
			return status.Errorf(codes.InvalidArgument, "a second metadata message after %d bytes of the bundle; metadata comes only first", size)
		}
		chunk := msg.GetChunk()
		size += int64(len(chunk))
		switch {
		case size > maxBundleSize:
			return status.Errorf(codes.InvalidArgument, "the bundle is larger than the limit of %d bytes", int64(maxBundleSize))
		case declared > 0 && size > declared:
			return status.Errorf(codes.InvalidArgument, "the bundle is larger than metadata.size, %d bytes", declared)
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
	}
	if declared > 0 && size != declared {
		return status.Errorf(codes.InvalidArgument, "the upload ended after %d bytes; metadata.size said %d", size, declared)
	}
	return nil
}
