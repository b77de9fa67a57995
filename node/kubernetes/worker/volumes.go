package worker

import (
	"context"
	"fmt"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"metropolis.dev/metropolis/node/kubernetes/localvolume"
	"metropolis.dev/metropolis/node/kubernetes/localvolume/provision"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Where the local volume driver lives: its volumes on the data partition, its socket in the
// kubelet's plugin directory, its registration socket where the kubelet looks for plugins.
func (s *Service) localVolumesDir() string { return filepath.Join(s.cfg.StateDir, "local-volumes") }
func (s *Service) csiSocket() string {
	return filepath.Join(s.cfg.StateDir, "kubelet", "plugins", localvolume.DriverName, "csi.sock")
}
func (s *Service) csiRegistrationSocket() string {
	return filepath.Join(s.cfg.StateDir, "kubelet", "plugins_registry", localvolume.DriverName+"-reg.sock")
}

// runLocalVolumes runs the local volume driver, registers it with the kubelet, and runs its
// provisioning and capacity loops; each a runnable of its own.
func (s *Service) runLocalVolumes(ctx context.Context, creds *credentials) error {
	driver := &localvolume.Driver{NodeID: s.cfg.NodeID, Dir: s.localVolumesDir()}
	if err := driver.Open(); err != nil {
		return err
	}
	client, err := clientset(creds.ca, filepath.Join(s.pkiDir(), proxyClientFile))
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient("unix://"+s.csiSocket(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("local volumes: %w", err)
	}
	go func() {
		<-ctx.Done()
		_ = conn.Close()
	}()
	for _, r := range []struct {
		name string
		run  supervisor.Runnable
	}{
		{"csi-driver", func(ctx context.Context) error {
			supervisor.Signal(ctx, supervisor.SignalHealthy)
			return driver.Serve(ctx, s.csiSocket())
		}},
		{"csi-registration", func(ctx context.Context) error {
			logger := supervisor.Logger(ctx)
			supervisor.Signal(ctx, supervisor.SignalHealthy)
			return localvolume.ServeRegistration(ctx, s.csiRegistrationSocket(), s.csiSocket(), func(err error) {
				if err != nil {
					logger.Warningf("local volumes: %v", err)
					return
				}
				logger.Infof("local volumes: the kubelet registered driver %s", localvolume.DriverName)
			})
		}},
		{"csi-provisioner", func(ctx context.Context) error {
			return provision.Run(ctx, provision.Config{Client: client, NodeName: s.cfg.NodeID, Driver: conn, Namespace: "kube-system"})
		}},
	} {
		if err := supervisor.Run(ctx, r.name, r.run); err != nil {
			return err
		}
	}
	return nil
}
