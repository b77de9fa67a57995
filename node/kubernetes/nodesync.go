package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"metropolis.dev/metropolis/node/curator/upnodes"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// nodeSyncInterval is how often the Kubernetes Nodes are checked against the cluster even when
// the cluster did not change (a kubelet may have re-registered a Node meanwhile).
const nodeSyncInterval = 30 * time.Second

// Role labels of Kubernetes Nodes, as `kubectl get nodes` shows them (ROLES) and as charts
// select control-plane nodes. Kubelets may not set node-role labels on their own Node
// (NodeRestriction), so the controllers keep them.
const (
	// LabelControlPlane marks a node with the KubernetesController role.
	LabelControlPlane = "node-role.kubernetes.io/control-plane"
	// LabelEtcd marks a consensus member (as k3s marks its etcd nodes).
	LabelEtcd = "node-role.kubernetes.io/etcd"
)

// nodeRoles is what a cluster node's roles make of its Kubernetes Node.
type nodeRoles struct {
	worker, controller, consensus bool
}

// syncNodes keeps the Kubernetes Nodes in line with the cluster: it deletes the Node of every
// node that is no longer an UP KubernetesWorker (deleted, or its role removed) and keeps the
// role labels of the others. It also keeps the metrics-server endpoints: the UP controllers. A Node whose kubelet is gone would otherwise only turn NotReady,
// and its pods be evicted after five minutes; deleting it has the pod garbage collector delete
// them at once, and their controllers schedule replacements.
func (s *Service) syncNodes(ctx context.Context, admin *adminClient) error {
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	return upnodes.Follow(ctx, s.cfg.Curator, nodeSyncInterval, func(nodes upnodes.Set) error {
		roles := map[string]nodeRoles{}
		for id, n := range nodes {
			r := n.GetRoles()
			roles[id] = nodeRoles{
				worker:     r.GetKubernetesWorker() != nil,
				controller: r.GetKubernetesController() != nil,
				consensus:  r.GetConsensusMember() != nil,
			}
		}
		logf := supervisor.Logger(ctx).Infof
		if err := admin.reconcileNodes(ctx, roles, logf); err != nil {
			return err
		}
		return admin.reconcileMetricsEndpoints(ctx, metricsServerAddresses(nodes), logf)
	})
}

// kubeNode is the part of a Kubernetes Node that reconcileNodes reads.
type kubeNode struct {
	Metadata struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
}

// reconcileNodes deletes every Kubernetes Node that is not an UP worker in roles and patches
// the role labels of the others where they differ.
func (a *adminClient) reconcileNodes(ctx context.Context, roles map[string]nodeRoles, logf func(string, ...any)) error {
	status, body, err := a.do(ctx, http.MethodGet, "/api/v1/nodes", nil)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("list Kubernetes nodes: %v %d %s", err, status, firstLine(body))
	}
	var list struct {
		Items []kubeNode `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return fmt.Errorf("list Kubernetes nodes: %w", err)
	}
	for _, n := range list.Items {
		name := n.Metadata.Name
		path := "/api/v1/nodes/" + url.PathEscape(name)
		r, ok := roles[name]
		if !ok || !r.worker {
			status, body, err := a.do(ctx, http.MethodDelete, path, nil)
			if err != nil || (status != http.StatusOK && status != http.StatusNotFound) {
				return fmt.Errorf("delete Kubernetes node %s: %v %d %s", name, err, status, firstLine(body))
			}
			logf("deleted Kubernetes node %s: it is no longer a KubernetesWorker of the cluster", name)
			continue
		}
		patch := roleLabelPatch(n.Metadata.Labels, r)
		if patch == nil {
			continue
		}
		data, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": patch}}) // strings and nils always marshal
		status, body, err := a.do(ctx, http.MethodPatch, path, data)
		if err != nil || (status != http.StatusOK && status != http.StatusNotFound) {
			return fmt.Errorf("label Kubernetes node %s: %v %d %s", name, err, status, firstLine(body))
		}
		logf("Kubernetes node %s: role labels %s", name, describePatch(patch))
	}
	return nil
}

// roleLabelPatch is the merge patch of labels that makes a Node's role labels match r (a
// label to set maps to "", one to remove to nil), or nil if they match already. Other labels
// are left alone.
func roleLabelPatch(labels map[string]string, r nodeRoles) map[string]*string {
	patch := map[string]*string{}
	empty := ""
	for label, want := range map[string]bool{LabelControlPlane: r.controller, LabelEtcd: r.consensus} {
		v, has := labels[label]
		switch {
		case want && (!has || v != ""):
			patch[label] = &empty
		case !want && has:
			patch[label] = nil
		}
	}
	if len(patch) == 0 {
		return nil
	}
	return patch
}

func describePatch(patch map[string]*string) string {
	var parts []string
	for label, v := range patch {
		if v == nil {
			parts = append(parts, "-"+label)
		} else {
			parts = append(parts, "+"+label)
		}
	}
	sort.Strings(parts)
	return fmt.Sprint(parts)
}
