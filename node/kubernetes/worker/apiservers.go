package worker

import (
	"context"
	"net"
	"slices"
	"strconv"
	"sync"

	"metropolis.dev/metropolis/node/curator/upnodes"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// apiservers is the list of apiservers the loopback proxy tries: the one the curator gave with
// the credentials at first, then the UP KubernetesController nodes as they come and go, so a
// worker keeps reaching the control plane when controllers are added or removed.
type apiservers struct {
	mu        sync.Mutex
	endpoints []string
}

func (a *apiservers) get(context.Context) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.endpoints, nil
}

// follow keeps the list in step with the cluster until ctx ends.
func (a *apiservers) follow(ctx context.Context, s *Service) error {
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	return upnodes.Follow(ctx, s.cfg.Curator, 0, func(nodes upnodes.Set) error {
		now := controllerEndpoints(nodes)
		a.mu.Lock()
		defer a.mu.Unlock()
		// With no controller UP for a moment, the last ones known are still the best guess.
		if len(now) == 0 || slices.Equal(now, a.endpoints) {
			return nil
		}
		supervisor.Logger(ctx).Infof("apiservers: %v", now)
		a.endpoints = now
		return nil
	})
}

// controllerEndpoints lists the apiserver addresses of the KubernetesController nodes in nodes,
// sorted.
func controllerEndpoints(nodes upnodes.Set) []string {
	var endpoints []string
	for _, n := range nodes {
		addr := n.GetStatus().GetExternalAddress()
		if n.GetRoles().GetKubernetesController() == nil || addr == "" {
			continue
		}
		endpoints = append(endpoints, net.JoinHostPort(addr, strconv.Itoa(int(ports.KubernetesAPI))))
	}
	slices.Sort(endpoints)
	return endpoints
}
