package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

// imageChunkSize is how much of an archive one LoadImage message carries: well under gRPC's
// default 4 MiB message limit.
const imageChunkSize = 1 << 20

// imageProgressInterval is how often a running upload says how far it got.
const imageProgressInterval = 5 * time.Second

// maxImageArchiveSize is the node's limit (nodemgmt.DefaultMaxImageArchiveSize, as the API
// documents it), checked here so that an operator learns it before uploading anything.
const maxImageArchiveSize = 8 << 30

func (s *session) nodeLoadImageCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "load-image NODE_ID FILE [FILE...]",
		Short: "Import container images from OCI archives into a node's containerd",
		Long: "Uploads each FILE, an OCI image-layout archive (ctr images export, docker save since\n" +
			"Docker 25, docker buildx build --output type=oci, skopeo copy ... oci-archive:FILE)\n" +
			"with linux/amd64 images named by full references, to the node, which checks it and\n" +
			"imports its images into containerd, pinned: the kubelet never garbage-collects them.\n" +
			"Pods use them by name with imagePullPolicy IfNotPresent or Never. The node must run\n" +
			"the KubernetesWorker role. Files are uploaded one after another; the command stops\n" +
			"at the first that fails. --timeout applies to reaching the node, not to uploads,\n" +
			"which report progress every few seconds and run until done or interrupted.",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: s.completeNodeThenFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := identity.ValidateNodeID(id); err != nil {
				return err
			}
			sizes, err := checkArchiveFiles(args[1:])
			if err != nil {
				return err
			}
			c, err := s.loadContext()
			if err != nil {
				return err
			}
			action := "load images into node " + id
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			conn, address, err := dialNodeManagement(ctx, c, id, s.app.NodeManagementPort, action)
			if err != nil {
				return err
			}
			defer conn.Close()
			nm := apb.NewNodeManagementClient(conn)
			for i, path := range args[1:] {
				res, err := uploadArchive(cmd.Context(), nm, path, sizes[i], cmd.ErrOrStderr(), imageProgressInterval)
				if err != nil {
					return explain(fmt.Sprintf("load %s into node %s at %s", path, id, address), err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Loaded %s into node %s:\n", path, id)
				for _, img := range res.Images {
					fmt.Fprintf(cmd.OutOrStdout(), "  %s %s\n", img.Name, img.Digest)
				}
			}
			return nil
		},
	}
}

// completeNodeThenFiles completes a node ID, then file names.
func (s *session) completeNodeThenFiles(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return s.nodeIDCompletions(cmd.Context(), nil), cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveDefault
}

// checkArchiveFiles makes sure every path is a readable, non-empty regular file within the
// node's limit, before anything is dialed, and returns their sizes.
func checkArchiveFiles(paths []string) ([]int64, error) {
	sizes := make([]int64, len(paths))
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("image archive: %w", err)
		}
		fi, err := f.Stat()
		f.Close()
		switch {
		case err != nil:
			return nil, fmt.Errorf("image archive: %w", err)
		case !fi.Mode().IsRegular():
			return nil, fmt.Errorf("image archive %s is not a regular file (%s)", p, fi.Mode().Type())
		case fi.Size() == 0:
			return nil, fmt.Errorf("image archive %s is empty", p)
		case fi.Size() > maxImageArchiveSize:
			return nil, fmt.Errorf("image archive %s is %s, more than the node's limit of %s", p, byteCount(fi.Size()), byteCount(maxImageArchiveSize))
		}
		sizes[i] = fi.Size()
	}
	return sizes, nil
}

// uploadArchive sends the file at path (size bytes) through one LoadImage call and returns
// the node's answer. While it runs, it writes a line to progress every interval: bytes sent,
// then, once all are, how long the node has been checking and importing them.
func uploadArchive(ctx context.Context, nm apb.NodeManagementClient, path string, size int64, progress io.Writer, interval time.Duration) (*apb.LoadImageResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := nm.LoadImage(ctx)
	if err != nil {
		return nil, err
	}
	meta := &apb.LoadImageMetadata{Name: filepath.Base(path), Size: size}
	stopReports, err := sendFile(path, size, progress, interval, "the node is checking and importing it",
		func() error {
			return stream.Send(&apb.LoadImageRequest{Part: &apb.LoadImageRequest_Metadata{Metadata: meta}})
		},
		func(chunk []byte) error {
			return stream.Send(&apb.LoadImageRequest{Part: &apb.LoadImageRequest_Chunk{Chunk: chunk}})
		})
	defer stopReports()
	if err != nil {
		return nil, err
	}
	return stream.CloseAndRecv()
}

// reportProgress writes a progress line for the upload of name every interval until the
// returned function is called; once all is sent, it says serverWork (what the server does
// with it) and for how long.
func reportProgress(w io.Writer, interval time.Duration, name, serverWork string, size int64, sent *atomic.Int64, allSent <-chan time.Time) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		var finished time.Time
		for {
			select {
			case <-done:
				return
			case finished = <-allSent:
			case <-t.C:
				if finished.IsZero() {
					fmt.Fprintf(w, "%s: %s of %s sent (%d%%)\n", name, byteCount(sent.Load()), byteCount(size), percent(sent.Load(), size))
				} else {
					fmt.Fprintf(w, "%s: all %s sent; %s (%s)\n", name, byteCount(size), serverWork, time.Since(finished).Round(time.Second))
				}
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

func percent(part, whole int64) int64 {
	if whole <= 0 {
		return 0
	}
	return part * 100 / whole
}

// byteCount says n in the largest binary unit that keeps it at 1 or more, e.g. "1.5 GiB".
func byteCount(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
