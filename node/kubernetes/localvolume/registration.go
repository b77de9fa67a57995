package localvolume

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	registration "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// The kubelet finds plugins by watching its plugins_registry directory for sockets. It asks
// each what it is (GetInfo) and then tells it whether it registered it: for a CSI driver, the
// kubelet then dials the driver's own socket and writes the node's CSINode entry. This is what
// upstream's node-driver-registrar does as a separate container; here it is a few lines in
// the node program, which has no containers of its own.

// registrar answers the kubelet's plugin registration calls for the driver at endpoint.
type registrar struct {
	registration.UnimplementedRegistrationServer
	endpoint string
	// registered receives the kubelet's verdict: nil, or why it refused the driver.
	registered func(error)
}

func (r registrar) GetInfo(context.Context, *registration.InfoRequest) (*registration.PluginInfo, error) {
	return &registration.PluginInfo{
		Type:              registration.CSIPlugin,
		Name:              DriverName,
		Endpoint:          r.endpoint,
		SupportedVersions: []string{"1.0.0"},
	}, nil
}

func (r registrar) NotifyRegistrationStatus(_ context.Context, s *registration.RegistrationStatus) (*registration.RegistrationStatusResponse, error) {
	if s.GetPluginRegistered() {
		r.registered(nil)
	} else {
		r.registered(fmt.Errorf("the kubelet refused driver %s: %s", DriverName, s.GetError()))
	}
	return &registration.RegistrationStatusResponse{}, nil
}

// ServeRegistration answers the kubelet on its plugin registration socket at path, naming
// the driver's socket at endpoint, until ctx ends. registered is called with the kubelet's
// verdict each time it (re)registers the driver.
func ServeRegistration(ctx context.Context, path, endpoint string, registered func(error)) error {
	srv := grpc.NewServer()
	registration.RegisterRegistrationServer(srv, registrar{endpoint: endpoint, registered: registered})
	return serveUnix(ctx, srv, path)
}
