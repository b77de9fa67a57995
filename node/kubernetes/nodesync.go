package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/curator/upnodes"
	"metropolis.dev/metropolis/osbase/event"
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

// nodeRoles is what a cluster node's roles and configuration make of its Kubernetes Node.
type nodeRoles struct {
	worker, controller, consensus bool
	// config is the node's effective Kubernetes configuration: labels and taints.
	config *apb.KubernetesNodeConfiguration
}

// syncNodes keeps the Kubernetes Nodes in line with the cluster: it deletes the Node of every
// node that is no longer an UP KubernetesWorker (deleted, or its role removed) and keeps the
// role labels of the others. It also keeps the metrics-server endpoints: the UP controllers. A Node whose kubelet is gone would otherwise only turn NotReady,
// and its pods be evicted after five minutes; deleting it has the pod garbage collector delete
// them at once, and their controllers schedule replacements.
//
// The labels and taints of each node's configuration, with the cluster's rules, go on its Node
// too; a change of the cluster's configuration resyncs every Node at once.
func (s *Service) syncNodes(ctx context.Context, admin *adminClient) error {
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	var clusterConfig event.Watcher[*apb.StoredClusterConfiguration]
	if s.cfg.ClusterConfiguration != nil {
		clusterConfig = s.cfg.ClusterConfiguration()
		defer clusterConfig.Close()
	}
	cluster := &apb.StoredClusterConfiguration{}
	if clusterConfig != nil {
		waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
		c, err := clusterConfig.Get(waitCtx)
		cancel()
		if err != nil {
			return fmt.Errorf("waiting for the cluster's configuration from the curator: %w", err)
		}
		cluster = c
	}
	for {
		followCtx, stop := context.WithCancel(ctx)
		changed := make(chan struct{})
		if clusterConfig != nil {
			go func() {
				// The next Get returns with the next change: stop following with the old one.
				if next, err := clusterConfig.Get(followCtx); err == nil {
					cluster = next
					close(changed)
					stop()
				}
			}()
		}
		err := s.followNodes(followCtx, admin, cluster.GetConfiguration())
		stop()
		select {
		case <-changed:
			supervisor.Logger(ctx).Infof("the cluster's configuration changed (version %d): resyncing the Kubernetes Nodes", cluster.GetVersion())
			continue
		default:
		}
		return err
	}
}

// followNodes keeps the Kubernetes Nodes in line with the cluster's nodes and configuration
// until ctx ends.
func (s *Service) followNodes(ctx context.Context, admin *adminClient, cluster *apb.ClusterConfiguration) error {
	return upnodes.Follow(ctx, s.cfg.Curator, nodeSyncInterval, func(nodes upnodes.Set) error {
		roles := map[string]nodeRoles{}
		for id, n := range nodes {
			r := n.GetRoles()
			facts := apb.NodeFacts{Labels: n.GetLabels(), ConsensusMember: r.GetConsensusMember() != nil}
			roles[id] = nodeRoles{
				worker:     r.GetKubernetesWorker() != nil,
				controller: r.GetKubernetesController() != nil,
				consensus:  r.GetConsensusMember() != nil,
				config:     apb.EffectiveNodeConfiguration(n.GetConfiguration().GetConfiguration(), cluster, facts).GetKubernetes(),
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
		Name            string            `json:"name"`
		ResourceVersion string            `json:"resourceVersion"`
		Labels          map[string]string `json:"labels"`
		Annotations     map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Taints []kubeTaint `json:"taints"`
	} `json:"spec"`
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
	return a.configureNodes(ctx, list.Items, roles, logf)
}

// configureNodes gives the Nodes the labels and taints of their configuration. The role
// labels were patched before, so each Node is read again for its current resourceVersion. A
// conflict (someone changed the Node meanwhile) waits for the next round.
func (a *adminClient) configureNodes(ctx context.Context, nodes []kubeNode, roles map[string]nodeRoles, logf func(string, ...any)) error {
	for _, listed := range nodes {
		r, ok := roles[listed.Metadata.Name]
		if !ok || !r.worker {
			continue
		}
		path := "/api/v1/nodes/" + url.PathEscape(listed.Metadata.Name)
		status, body, err := a.do(ctx, http.MethodGet, path, nil)
		if status == http.StatusNotFound {
			continue
		}
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("read Kubernetes node %s: %v %d %s", listed.Metadata.Name, err, status, firstLine(body))
		}
		var n kubeNode
		if err := json.Unmarshal(body, &n); err != nil {
			return fmt.Errorf("read Kubernetes node %s: %w", listed.Metadata.Name, err)
		}
		patch := configurationPatch(n, r.config)
		if patch == nil {
			continue
		}
		data, err := json.Marshal(patch)
		if err != nil {
			return fmt.Errorf("configure Kubernetes node %s: %w", n.Metadata.Name, err)
		}
		status, body, err = a.do(ctx, http.MethodPatch, path, data)
		switch {
		case err == nil && (status == http.StatusConflict || status == http.StatusNotFound):
			logf("Kubernetes node %s changed while it was being configured; trying again at the next sync", n.Metadata.Name)
		case err != nil || status != http.StatusOK:
			return fmt.Errorf("configure Kubernetes node %s: %v %d %s", n.Metadata.Name, err, status, firstLine(body))
		default:
			logf("Kubernetes node %s: labels %v and taints %v from its configuration", n.Metadata.Name, r.config.GetLabels(), taintList(r.config.GetTaints()))
		}
	}
	return nil
}

func taintList(ts []*apb.Taint) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.GetKey()+"="+t.GetValue()+":"+t.GetEffect())
	}
	return out
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
