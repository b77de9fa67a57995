package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"metropolis.dev/metropolis/node/curator/upnodes"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// nodeSyncInterval is how often the Kubernetes Nodes are checked against the cluster even when
// the cluster did not change (a kubelet may have re-registered a Node meanwhile).
const nodeSyncInterval = 30 * time.Second

// syncNodes deletes the Kubernetes Node of every node that is no longer an UP KubernetesWorker
// of the cluster (deleted, or its role removed). A Node whose kubelet is gone would otherwise
// only turn NotReady, and its pods be evicted after five minutes; deleting it has the pod
// garbage collector delete them at once, and their controllers schedule replacements.
func (s *Service) syncNodes(ctx context.Context, admin *adminClient) error {
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	return upnodes.Follow(ctx, s.cfg.Curator, nodeSyncInterval, func(nodes upnodes.Set) error {
		workers := map[string]bool{}
		for id, n := range nodes {
			workers[id] = n.GetRoles().GetKubernetesWorker() != nil
		}
		return admin.deleteNodesExcept(ctx, workers, supervisor.Logger(ctx).Infof)
	})
}

// deleteNodesExcept deletes every Kubernetes Node whose name is not a key of keep with value
// true.
func (a *adminClient) deleteNodesExcept(ctx context.Context, keep map[string]bool, logf func(string, ...any)) error {
	status, body, err := a.do(ctx, http.MethodGet, "/api/v1/nodes", nil)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("list Kubernetes nodes: %v %d %s", err, status, firstLine(body))
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return fmt.Errorf("list Kubernetes nodes: %w", err)
	}
	for _, n := range list.Items {
		name := n.Metadata.Name
		if keep[name] {
			continue
		}
		status, body, err := a.do(ctx, http.MethodDelete, "/api/v1/nodes/"+url.PathEscape(name), nil)
		if err != nil || (status != http.StatusOK && status != http.StatusNotFound) {
			return fmt.Errorf("delete Kubernetes node %s: %v %d %s", name, err, status, firstLine(body))
		}
		logf("deleted Kubernetes node %s: it is no longer a KubernetesWorker of the cluster", name)
	}
	return nil
}
