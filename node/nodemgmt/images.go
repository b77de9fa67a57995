package nodemgmt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/ociimage"
)

// ImageLoader imports the images of a checked OCI image-layout archive into the node's
// containerd, pinned so that the kubelet's image garbage collection never deletes them, and
// returns the names they were imported under. The archive has passed ociimage.Inspect and
// every index.json entry carries a name (see imageName). An implementation returns an error
// wrapping ErrNoWorker when the node runs no Kubernetes worker at the moment.
type ImageLoader interface {
	LoadImage(ctx context.Context, archivePath string) ([]string, error)
}

// ErrNoWorker is what an ImageLoader wraps when there is no containerd to import into: the
// node does not hold the KubernetesWorker role now (or its worker is not running yet).
var ErrNoWorker = errors.New("this node runs no Kubernetes worker")

// DefaultMaxImageArchiveSize bounds a LoadImage upload (as the API documents): as large as
// the largest blob ociimage.Inspect accepts.
const DefaultMaxImageArchiveSize = int64(ociimage.MaxBlobSize)

// maxArchiveNameLength bounds LoadImageMetadata.name, which only goes to the logs.
const maxArchiveNameLength = 256

// spoolPattern names upload files in the spool directory; leftovers of an upload cut short by
// a crash are removed by the next upload.
const spoolPattern = "load-image-*.tar"

// LoadImage implements apb.NodeManagementServer.
func (s *Server) LoadImage(stream grpc.ClientStreamingServer[apb.LoadImageRequest, apb.LoadImageResponse]) error {
	ctx := stream.Context()
	if s.cfg.Images == nil {
		return status.Error(codes.FailedPrecondition, ErrNoWorker.Error()+" (it has no container runtime to import images into)")
	}
	select {
	case s.uploading <- struct{}{}:
		defer func() { <-s.uploading }()
	default:
		return status.Error(codes.Aborted, "another image upload to this node is in progress; try again when it is done")
	}
	meta, err := s.receiveMetadata(stream)
	if err != nil {
		return err
	}
	name := meta.GetName()
	if name == "" {
		name = "(unnamed archive)"
	}
	started := time.Now()
	path, size, err := s.spool(stream, meta)
	if path != "" {
		defer os.Remove(path)
	}
	if err != nil {
		s.cfg.Logger.Warningf("LoadImage: upload of %q refused: %v", name, err)
		return err
	}
	s.cfg.Logger.Infof("LoadImage: received %q (%d bytes) in %s; checking it", name, size, time.Since(started).Round(time.Millisecond))

	summary, err := inspectFile(path)
	if err != nil {
		s.cfg.Logger.Warningf("LoadImage: %q refused: %v", name, err)
		return status.Errorf(codes.InvalidArgument, "the archive is not a valid OCI image-layout archive with linux/amd64 images (Docker's older save format is not supported): %v", err)
	}
	digests := make(map[string]string)
	for i, img := range summary.Images {
		n, err := imageName(img.Name, img.RefName)
		if err != nil {
			s.cfg.Logger.Warningf("LoadImage: %q refused: %v", name, err)
			return status.Errorf(codes.InvalidArgument, "index.json manifests[%d] (%s): %v", i, img.Digest, err)
		}
		digests[n] = img.Digest.String()
	}

	loaded, err := s.cfg.Images.LoadImage(ctx, path)
	switch {
	case errors.Is(err, ErrNoWorker):
		s.cfg.Logger.Warningf("LoadImage: %q not imported: %v", name, err)
		return status.Errorf(codes.FailedPrecondition, "not imported: %v", err)
	case err != nil && ctx.Err() != nil:
		s.cfg.Logger.Warningf("LoadImage: importing %q stopped, the caller went away: %v", name, err)
		return status.FromContextError(ctx.Err()).Err()
	case err != nil:
		s.cfg.Logger.Errorf("LoadImage: importing %q failed: %v", name, err)
		return status.Errorf(codes.Internal, "importing into containerd: %v", err)
	}
	res := &apb.LoadImageResponse{}
	for _, n := range loaded {
		res.Images = append(res.Images, &apb.LoadedImage{Name: n, Digest: digests[n]})
	}
	s.cfg.Logger.Infof("LoadImage: imported %v from %q (%d bytes), pinned, in %s", loaded, name, size, time.Since(started).Round(time.Millisecond))
	return stream.SendAndClose(res)
}

// receiveMetadata reads and checks the first message of an upload.
func (s *Server) receiveMetadata(stream grpc.ClientStreamingServer[apb.LoadImageRequest, apb.LoadImageResponse]) (*apb.LoadImageMetadata, error) {
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil, status.Error(codes.InvalidArgument, "the upload ended before its metadata message: send a LoadImageMetadata first, then the archive")
	}
	if err != nil {
		return nil, err
	}
	meta := first.GetMetadata()
	switch {
	case meta == nil:
		return nil, status.Error(codes.InvalidArgument, "the first message carries no metadata: send a LoadImageMetadata first, then the archive")
	case len(meta.GetName()) > maxArchiveNameLength:
		return nil, status.Errorf(codes.InvalidArgument, "metadata.name is %d bytes, more than the limit of %d", len(meta.GetName()), maxArchiveNameLength)
	case meta.GetSize() < 0:
		return nil, status.Errorf(codes.InvalidArgument, "metadata.size is %d, negative", meta.GetSize())
	case meta.GetSize() > s.maxArchive:
		return nil, status.Errorf(codes.InvalidArgument, "metadata.size says %d bytes, more than the limit of %d bytes (%s)", meta.GetSize(), s.maxArchive, mib(s.maxArchive))
	}
	return meta, nil
}

// spool writes the chunks that follow the metadata to a new file in the spool directory and
// returns its path (set whenever a file was created, so that the caller removes it) and size.
func (s *Server) spool(stream grpc.ClientStreamingServer[apb.LoadImageRequest, apb.LoadImageResponse], meta *apb.LoadImageMetadata) (string, int64, error) {
	if err := os.MkdirAll(s.cfg.SpoolDir, 0o700); err != nil {
		return "", 0, status.Errorf(codes.Internal, "image spool directory: %v", err)
	}
	removeLeftovers(s.cfg.SpoolDir)
	if want := meta.GetSize(); want > 0 {
		if free, err := freeBytes(s.cfg.SpoolDir); err == nil && free < uint64(want) {
			return "", 0, status.Errorf(codes.ResourceExhausted, "the archive is %d bytes; the node's data partition has %d bytes free", want, free)
		}
	}
	f, err := os.CreateTemp(s.cfg.SpoolDir, spoolPattern)
	if err != nil {
		return "", 0, status.Errorf(codes.Internal, "image spool file: %v", err)
	}
	path := f.Name()
	size, err := s.receiveChunks(stream, meta.GetSize(), f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = status.Errorf(codes.Internal, "image spool file: %v", cerr)
	}
	return path, size, err
}

// receiveChunks copies the upload's chunks to w until the client closes its side.
func (s *Server) receiveChunks(stream grpc.ClientStreamingServer[apb.LoadImageRequest, apb.LoadImageResponse], declared int64, w io.Writer) (int64, error) {
	var size int64
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return size, err
		}
		if msg.GetMetadata() != nil {
			return size, status.Errorf(codes.InvalidArgument, "a second metadata message after %d bytes of the archive; metadata comes only first", size)
		}
		chunk := msg.GetChunk()
		size += int64(len(chunk))
		switch {
		case size > s.maxArchive:
			return size, status.Errorf(codes.InvalidArgument, "the archive is larger than the limit of %d bytes (%s)", s.maxArchive, mib(s.maxArchive))
		case declared > 0 && size > declared:
			return size, status.Errorf(codes.InvalidArgument, "the archive is larger than metadata.size, %d bytes", declared)
		}
		if _, err := w.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return size, status.Errorf(codes.ResourceExhausted, "the node's data partition is full after %d bytes of the archive", size)
			}
			return size, status.Errorf(codes.Internal, "image spool file: %v", err)
		}
	}
	switch {
	case size == 0:
		return 0, status.Error(codes.InvalidArgument, "the upload ended before any byte of the archive")
	case declared > 0 && size != declared:
		return size, status.Errorf(codes.InvalidArgument, "the upload ended after %d bytes; metadata.size said %d", size, declared)
	}
	return size, nil
}

// inspectFile runs ociimage.Inspect on the spooled archive.
func inspectFile(path string) (*ociimage.Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ociimage.Inspect(f)
}

// imageName is the name containerd imports an index.json entry under, from its
// io.containerd.image.name annotation (imageNameAnnotation) or else its
// org.opencontainers.image.ref.name (refName). It must be a full reference, as Kubernetes
// names images: a bare tag ("v1") or short name ("app:v1") would be imported as is, under a
// name no pod spec could refer to.
func imageName(imageNameAnnotation, refName string) (string, error) {
	n, from := imageNameAnnotation, ociimage.AnnotationImageName
	if n == "" {
		n, from = refName, ocispec.AnnotationRefName
	}
	if n == "" {
		return "", fmt.Errorf("no image name: give it an %s annotation (or a full reference in %s)", ociimage.AnnotationImageName, ocispec.AnnotationRefName)
	}
	named, err := reference.ParseNormalizedNamed(n)
	if err != nil {
		return "", fmt.Errorf("%s %q: %v", from, n, err)
	}
	if named.String() != n {
		return "", fmt.Errorf("%s %q is not a full reference (Kubernetes would call it %q)", from, n, named.String())
	}
	return n, nil
}

// removeLeftovers deletes upload files of earlier uploads; it runs while no other upload is.
func removeLeftovers(dir string) {
	old, _ := filepath.Glob(filepath.Join(dir, spoolPattern))
	for _, p := range old {
		os.Remove(p)
	}
}

func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

func mib(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }
