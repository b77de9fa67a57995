package localvolume

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
)

// Driver is one worker's local volume driver.
type Driver struct {
	// NodeID is the Kubernetes node name of this worker: the driver's node ID and topology.
	NodeID string
	// Dir is where the volumes' files live, on the data partition.
	Dir string
	// Version is reported as the driver's vendor version; empty: the node program's source
	// revision, as the Go toolchain recorded it.
	Version string

	vols *volumes
}

func (d *Driver) version() string {
	if d.Version != "" {
		return d.Version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
	}
	return "devel"
}

// Open makes the volumes' directory and removes volumes left half-made by a crash.
func (d *Driver) Open() error {
	if d.NodeID == "" || d.Dir == "" {
		return errors.New("local volumes: node ID and directory required")
	}
	d.vols = &volumes{dir: d.Dir, reserve: Reserve}
	return d.vols.open()
}

// Serve answers the CSI identity, controller and node services on a Unix socket at path
// until ctx ends. Open must have succeeded.
func (d *Driver) Serve(ctx context.Context, path string) error {
	if d.vols == nil {
		return errors.New("local volumes: Serve before Open")
	}
	srv := grpc.NewServer()
	csi.RegisterIdentityServer(srv, identityServer{d: d})
	csi.RegisterControllerServer(srv, controllerServer{d: d})
	csi.RegisterNodeServer(srv, nodeServer{d: d})
	return serveUnix(ctx, srv, path)
}

// serveUnix serves srv on a new Unix socket at path (replacing a stale one) until ctx ends.
func serveUnix(ctx context.Context, srv *grpc.Server, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		srv.Stop()
	}()
	if err := srv.Serve(l); err != nil && ctx.Err() == nil {
		return fmt.Errorf("serve %s: %w", path, err)
	}
	return ctx.Err()
}
