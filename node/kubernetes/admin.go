package kubernetes

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"metropolis.dev/metropolis/node/kubernetes/localvolume"
	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
	"metropolis.dev/metropolis/osbase/logtree"
)

// adminClient calls the local apiserver as metropolis:controller (system:masters), for what the
// controller itself sets up.
type adminClient struct {
	server string
	http   *http.Client
}

func (s *Service) adminClient() (*adminClient, error) {
	caPEM, err := os.ReadFile(s.path(caFile))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(s.path(adminCertFile), s.path(adminKeyFile))
	if err != nil {
		return nil, fmt.Errorf("controller admin certificate: %w", err)
	}
	return &adminClient{server: s.localServer(), http: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
		}},
	}}, nil
}

// waitReady polls /readyz until the apiserver says ok, logging what it last said every few
// seconds.
func (a *adminClient) waitReady(ctx context.Context, logger logtree.LeveledLogger) error {
	lastLog := time.Now()
	for {
		status, body, err := a.do(ctx, http.MethodGet, "/readyz", nil)
		if err == nil && status == http.StatusOK {
			return nil
		}
		if time.Since(lastLog) > 5*time.Second {
			if err != nil {
				logger.Infof("waiting for the apiserver to be ready: %v", err)
			} else {
				logger.Infof("waiting for the apiserver to be ready: /readyz says %d %s", status, firstLine(body))
			}
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// clusterRoleBinding binds user to an existing ClusterRole.
func clusterRoleBinding(name, role, user string) map[string]any {
	return map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1",
		"kind":       "ClusterRoleBinding",
		"metadata": map[string]any{
			"name":   name,
			"labels": map[string]string{"metropolis.dev/managed": "true"},
		},
		"roleRef":  map[string]string{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
		"subjects": []map[string]string{{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}},
	}
}

// rule is one rule of a ClusterRole.
func rule(group string, resources []string, verbs ...string) map[string]any {
	return map[string]any{"apiGroups": []string{group}, "resources": resources, "verbs": verbs}
}

// curatorRole is what the curator leader may do in a rollout: read nodes and mark them
// (un)schedulable, read pods and evict them, and read DaemonSets (a drain leaves their pods).
var curatorRole = map[string]any{
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind":       "ClusterRole",
	"metadata": map[string]any{
		"name":   kpki.UserCurator,
		"labels": map[string]string{"metropolis.dev/managed": "true"},
	},
	"rules": []map[string]any{
		rule("", []string{"nodes"}, "get", "list", "patch"),
		rule("", []string{"pods"}, "get", "list"),
		rule("", []string{"pods/eviction"}, "create"),
		rule("apps", []string{"daemonsets"}, "get"),
	},
}

// networkPolicyRole is what a worker's NetworkPolicy enforcement reads (node/kubernetes/netpol).
var networkPolicyRole = map[string]any{
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind":       "ClusterRole",
	"metadata": map[string]any{
		"name":   kpki.RoleNetworkPolicy,
		"labels": map[string]string{"metropolis.dev/managed": "true"},
	},
	"rules": []map[string]any{
		rule("", []string{"pods", "namespaces"}, "get", "list", "watch"),
		rule("networking.k8s.io", []string{"networkpolicies"}, "get", "list", "watch"),
		rule("policy.networking.k8s.io", []string{"clusternetworkpolicies"}, "get", "list", "watch"),
	},
}

// nodeMetricsRole is what a worker's node program reads from its own kubelet for the node's
// metrics port (node/metrics): the kubelet's and cAdvisor's figures, which the kubelet
// authorizes as nodes/metrics.
var nodeMetricsRole = map[string]any{
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind":       "ClusterRole",
	"metadata": map[string]any{
		"name":   kpki.RoleNodeMetrics,
		"labels": map[string]string{"metropolis.dev/managed": "true"},
	},
	"rules": []map[string]any{
		rule("", []string{"nodes/metrics"}, "get"),
	},
}

// localVolumesRole is what a worker's local volume loops do (node/kubernetes/localvolume/
// provision): upstream's external-provisioner makes and deletes PersistentVolumes for claims
// on its node and keeps its CSIStorageCapacity objects; the resizer grows claims' volumes and
// records it in their status.
var localVolumesRole = map[string]any{
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind":       "ClusterRole",
	"metadata": map[string]any{
		"name":   kpki.RoleLocalVolumes,
		"labels": map[string]string{"metropolis.dev/managed": "true"},
	},
	"rules": []map[string]any{
		rule("", []string{"persistentvolumes"}, "get", "list", "watch", "create", "delete", "patch", "update"),
		rule("", []string{"persistentvolumeclaims"}, "get", "list", "watch", "patch", "update"),
		rule("", []string{"persistentvolumeclaims/status"}, "patch", "update"),
		rule("", []string{"nodes"}, "get", "list", "watch"),
		rule("", []string{"events"}, "create", "patch", "update", "list", "watch"),
		rule("storage.k8s.io", []string{"storageclasses", "csinodes", "volumeattachments", "volumeattributesclasses"}, "get", "list", "watch"),
		rule("storage.k8s.io", []string{"csistoragecapacities"}, "get", "list", "watch", "create", "update", "patch", "delete"),
	},
}

// localCSIDriver describes the local volume driver to Kubernetes: nothing to attach (a volume
// is on its node already), file ownership set for a pod's fsGroup, and capacity tracked, so
// the scheduler puts a pod whose claim is not bound yet only on a node with room for it.
var localCSIDriver = map[string]any{
	"apiVersion": "storage.k8s.io/v1",
	"kind":       "CSIDriver",
	"metadata": map[string]any{
		"name":   localvolume.DriverName,
		"labels": map[string]string{"metropolis.dev/managed": "true"},
	},
	"spec": map[string]any{
		"attachRequired":       false,
		"podInfoOnMount":       false,
		"storageCapacity":      true,
		"fsGroupPolicy":        "File",
		"volumeLifecycleModes": []string{"Persistent"},
	},
}

// localStorageClass is StorageClass "local", the cluster's default: volumes on a worker's
// data partition, made once the claim's pod is scheduled (so on a node with room), growable,
// deleted with their claim.
var localStorageClass = map[string]any{
	"apiVersion": "storage.k8s.io/v1",
	"kind":       "StorageClass",
	"metadata": map[string]any{
		"name":        "local",
		"labels":      map[string]string{"metropolis.dev/managed": "true"},
		"annotations": map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
	},
	"provisioner":          localvolume.DriverName,
	"volumeBindingMode":    "WaitForFirstConsumer",
	"allowVolumeExpansion": true,
	"reclaimPolicy":        "Delete",
}

// metricsReaderRole is what a controller's node program reads from its control plane for the
// node's metrics port: /metrics, which the apiserver authorizes and the controller-manager and
// scheduler ask the apiserver about.
var metricsReaderRole = map[string]any{
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind":       "ClusterRole",
	"metadata": map[string]any{
		"name":   kpki.UserMetricsReader,
		"labels": map[string]string{"metropolis.dev/managed": "true"},
	},
	"rules": []map[string]any{
		{"nonResourceURLs": []string{"/metrics"}, "verbs": []string{"get"}},
	},
}

// dnsService is the kube-dns Service: kubeadm's convention (the name, the label
// k8s-app=kube-dns, the port names, 10.96.0.10), which charts and tools look for. It has no
// selector and no endpoints; every worker answers on its ClusterIP itself, and the label
// service.kubernetes.io/service-proxy-name tells service proxies (ours too) to leave it alone.
var dnsService = map[string]any{
	"apiVersion": "v1",
	"kind":       "Service",
	"metadata": map[string]any{
		"name":      "kube-dns",
		"namespace": "kube-system",
		"labels": map[string]string{
			"metropolis.dev/managed": "true", "k8s-app": "kube-dns", "kubernetes.io/name": "ClusterDNS",
			"service.kubernetes.io/service-proxy-name": "metropolis-node-local",
		},
	},
	"spec": map[string]any{
		"clusterIP": kpki.DNSServiceIP.String(),
		"ports": []map[string]any{
			{"name": "dns", "port": 53, "protocol": "UDP"},
			{"name": "dns-tcp", "port": 53, "protocol": "TCP"},
		},
	},
}

// object is one Kubernetes object a controller makes sure exists, and where it is created.
type object struct {
	kind, path string
	body       map[string]any
	// optional objects that cannot be made are reported, not fatal: a cluster runs without
	// them (kube-dns cannot have its ClusterIP if a Service holds it already).
	optional bool
}

// objects are what every controller makes sure exists: the curator's rollout role, the
// workers' NetworkPolicy role, the bindings that make the cluster owner a cluster-admin, let
// the apiserver use the kubelets' API (logs, exec, port-forward), and give the curator and the
// workers' proxy identity their roles; the kube-dns Service; the local volume driver and its
// default StorageClass "local"; and what the resource metrics API needs (metricsapi.go). A controller of an older release lacks the newer ones; the first
// controller of a newer release adds them.
var objects = append([]object{
	{"ClusterRole", "/apis/rbac.authorization.k8s.io/v1/clusterroles", curatorRole, false},
	{"ClusterRoleBinding", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", clusterRoleBinding(kpki.UserOwner, "cluster-admin", kpki.UserOwner), false},
	{"ClusterRoleBinding", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", clusterRoleBinding(kpki.UserAPIServerKubelet, "system:kubelet-api-admin", kpki.UserAPIServerKubelet), false},
	{"ClusterRoleBinding", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", clusterRoleBinding(kpki.UserCurator, kpki.UserCurator, kpki.UserCurator), false},
	{"ClusterRole", "/apis/rbac.authorization.k8s.io/v1/clusterroles", networkPolicyRole, false},
	{"ClusterRoleBinding", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", clusterRoleBinding(kpki.RoleNetworkPolicy, kpki.RoleNetworkPolicy, kpki.UserProxy), false},
	{"ClusterRole", "/apis/rbac.authorization.k8s.io/v1/clusterroles", nodeMetricsRole, false},
	{"ClusterRole", "/apis/rbac.authorization.k8s.io/v1/clusterroles", metricsReaderRole, false},
	{"ClusterRoleBinding", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", clusterRoleBinding(kpki.UserMetricsReader, kpki.UserMetricsReader, kpki.UserMetricsReader), false},
	{"ClusterRoleBinding", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", clusterRoleBinding(kpki.RoleNodeMetrics, kpki.RoleNodeMetrics, kpki.UserProxy), false},
	{"Service", "/api/v1/namespaces/kube-system/services", dnsService, true},
	{"ClusterRole", "/apis/rbac.authorization.k8s.io/v1/clusterroles", localVolumesRole, false},
	{"ClusterRoleBinding", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", clusterRoleBinding(kpki.RoleLocalVolumes, kpki.RoleLocalVolumes, kpki.UserProxy), false},
	{"CSIDriver", "/apis/storage.k8s.io/v1/csidrivers", localCSIDriver, false},
	// Optional: an operator may have made a StorageClass of this name already.
	{"StorageClass", "/apis/storage.k8s.io/v1/storageclasses", localStorageClass, true},
}, metricsObjects...)

// bind creates the objects; one that exists already (another controller made it) is fine,
// and a ClusterRole that exists gets this release's rules, so a role a later release widens
// (the NetworkPolicy role reads ClusterNetworkPolicies too) is widened on clusters made before
// it. An optional one the apiserver refuses is passed to warnf.
func (a *adminClient) bind(ctx context.Context, warnf func(string, ...any)) error {
	for _, o := range objects {
		name := o.body["metadata"].(map[string]any)["name"]
		body, _ := json.Marshal(o.body) // a literal of maps and strings always marshals
		status, resp, err := a.do(ctx, http.MethodPost, o.path, body)
		if err != nil {
			return fmt.Errorf("create %s %s: %w", o.kind, name, err)
		}
		if status == http.StatusConflict && o.kind == "ClusterRole" {
			patch, _ := json.Marshal(map[string]any{"rules": o.body["rules"]}) // as above
			status, resp, err = a.do(ctx, http.MethodPatch, fmt.Sprintf("%s/%s", o.path, name), patch)
			if err != nil {
				return fmt.Errorf("update ClusterRole %s: %w", name, err)
			}
			if status != http.StatusOK {
				return fmt.Errorf("update ClusterRole %s: apiserver says %d %s", name, status, firstLine(resp))
			}
			continue
		}
		if status != http.StatusCreated && status != http.StatusConflict {
			err := fmt.Errorf("create %s %s: apiserver says %d %s", o.kind, name, status, firstLine(resp))
			if !o.optional {
				return err
			}
			warnf("%v (going on without it)", err)
		}
	}
	return nil
}

func (a *adminClient) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.server+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	switch {
	case method == http.MethodPatch:
		req.Header.Set("Content-Type", "application/merge-patch+json")
	case body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 32<<20)) // a list of many Nodes is megabytes
	return res.StatusCode, data, err
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}
