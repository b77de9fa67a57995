package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"

	"metropolis.dev/metropolis/node/curator/upnodes"
	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
	"metropolis.dev/metropolis/node/ports"
)

// The resource metrics API (metrics.k8s.io, behind `kubectl top` and the autoscalers' CPU and
// memory targets) is served by upstream metrics-server, run by every controller next to its
// apiserver (service.go). The apiservers reach it through API aggregation: an APIService names
// a Service without a selector whose one EndpointSlice, kept here, lists the UP controllers.
const (
	metricsAPIService   = "v1beta1.metrics.k8s.io"
	apiServicesPath     = "/apis/apiregistration.k8s.io/v1/apiservices"
	metricsSlicePath    = "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices"
	metricsPortName     = "https"
	endpointSliceSource = "metropolis-controller" // a label value: no slash
)

// metricsServerRole is what a metrics-server reads: the kubelets' resource figures (which
// kubelets authorize as nodes/metrics) and the nodes and pods it reports on.
var metricsServerRole = map[string]any{
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind":       "ClusterRole",
	"metadata": map[string]any{
		"name":   kpki.UserMetricsServer,
		"labels": map[string]string{"metropolis.dev/managed": "true"},
	},
	"rules": []map[string]any{
		rule("", []string{"nodes/metrics"}, "get"),
		rule("", []string{"pods", "nodes"}, "get", "list", "watch"),
	},
}

// metricsViewerRole lets whoever may view a namespace's objects (the view, edit and admin
// ClusterRoles, by aggregation) read their resource figures too, as upstream's manifests do.
var metricsViewerRole = map[string]any{
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind":       "ClusterRole",
	"metadata": map[string]any{
		"name": "metropolis:aggregated-metrics-reader",
		"labels": map[string]string{
			"metropolis.dev/managed":                       "true",
			"rbac.authorization.k8s.io/aggregate-to-view":  "true",
			"rbac.authorization.k8s.io/aggregate-to-edit":  "true",
			"rbac.authorization.k8s.io/aggregate-to-admin": "true",
		},
	},
	"rules": []map[string]any{
		rule("metrics.k8s.io", []string{"pods", "nodes"}, "get", "list", "watch"),
	},
}

// metricsServerAuthReader lets the metrics-server read the extension-apiserver-authentication
// ConfigMap: the Kubernetes CA, with which it also accepts clients that call it directly.
var metricsServerAuthReader = map[string]any{
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind":       "RoleBinding",
	"metadata": map[string]any{
		"name":      kpki.UserMetricsServer + ":auth-reader",
		"namespace": "kube-system",
		"labels":    map[string]string{"metropolis.dev/managed": "true"},
	},
	"roleRef":  map[string]string{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "extension-apiserver-authentication-reader"},
	"subjects": []map[string]string{{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": kpki.UserMetricsServer}},
}

// metricsServerService is what the APIService names. It has no selector: its endpoints are the
// controllers (reconcileMetricsEndpoints). Workers' service proxies reach them by its
// ClusterIP too.
var metricsServerService = map[string]any{
	"apiVersion": "v1",
	"kind":       "Service",
	"metadata": map[string]any{
		"name":      kpki.MetricsServerService,
		"namespace": "kube-system",
		"labels":    map[string]string{"metropolis.dev/managed": "true", "k8s-app": "metrics-server"},
	},
	"spec": map[string]any{
		"ports": []map[string]any{
			{"name": metricsPortName, "port": 443, "targetPort": int(ports.MetricsServer), "protocol": "TCP"},
		},
	},
}

// metricsObjects are the objects above with where they are created, for bind.
var metricsObjects = []object{
	{"ClusterRole", "/apis/rbac.authorization.k8s.io/v1/clusterroles", metricsServerRole, false},
	{"ClusterRoleBinding", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", clusterRoleBinding(kpki.UserMetricsServer, kpki.UserMetricsServer, kpki.UserMetricsServer), false},
	{"ClusterRoleBinding", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", clusterRoleBinding(kpki.UserMetricsServer+":auth-delegator", "system:auth-delegator", kpki.UserMetricsServer), false},
	{"RoleBinding", "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings", metricsServerAuthReader, false},
	{"ClusterRole", "/apis/rbac.authorization.k8s.io/v1/clusterroles", metricsViewerRole, false},
	{"Service", "/api/v1/namespaces/kube-system/services", metricsServerService, false},
}

// metricsAPIServiceSpec is the APIService's spec: the Service, and the CA that the
// metrics-servers' serving certificates come from.
func metricsAPIServiceSpec(caPEM []byte) map[string]any {
	return map[string]any{
		"group":                "metrics.k8s.io",
		"version":              "v1beta1",
		"service":              map[string]any{"name": kpki.MetricsServerService, "namespace": "kube-system", "port": 443},
		"caBundle":             b64(caPEM),
		"groupPriorityMinimum": 100,
		"versionPriority":      100,
	}
}

// installMetricsAPI registers the resource metrics API with the apiservers: it creates the
// APIService, or replaces one whose spec differs (made by hand, or naming another CA).
func (a *adminClient) installMetricsAPI(ctx context.Context, caPEM []byte) error {
	spec := metricsAPIServiceSpec(caPEM)
	obj := map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata": map[string]any{
			"name":   metricsAPIService,
			"labels": map[string]string{"metropolis.dev/managed": "true"},
		},
		"spec": spec,
	}
	_, err := a.ensure(ctx, "APIService "+metricsAPIService, apiServicesPath, obj, func(installed []byte) (bool, error) {
		var have struct {
			Spec map[string]any `json:"spec"`
		}
		err := json.Unmarshal(installed, &have)
		return err == nil && sameJSON(have.Spec, spec), err
	})
	return err
}

// ensure makes the object in collection named as want's be want: created if missing, else
// replaced where same says the installed one differs, with a compare-and-set on its
// resourceVersion. It tells whether it wrote. A conflict is no error: another controller
// wrote in between, and the next pass judges what it wrote.
func (a *adminClient) ensure(ctx context.Context, what, collection string, want map[string]any, same func(installed []byte) (bool, error)) (bool, error) {
	meta := want["metadata"].(map[string]any)
	path := collection + "/" + meta["name"].(string)
	status, body, err := a.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", what, err)
	}
	switch status {
	case http.StatusNotFound:
		data, _ := json.Marshal(want) // maps and strings always marshal
		status, body, err = a.do(ctx, http.MethodPost, collection, data)
	case http.StatusOK:
		var installed struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(body, &installed); err != nil {
			return false, fmt.Errorf("read %s: %w", what, err)
		}
		if ok, err := same(body); err != nil || ok {
			return false, err
		}
		replacement, m := maps.Clone(want), maps.Clone(meta)
		m["resourceVersion"] = installed.Metadata.ResourceVersion
		replacement["metadata"] = m
		data, _ := json.Marshal(replacement) // as above
		status, body, err = a.do(ctx, http.MethodPut, path, data)
	default:
		return false, fmt.Errorf("read %s: apiserver says %d %s", what, status, firstLine(body))
	}
	switch {
	case err != nil:
		return false, fmt.Errorf("write %s: %w", what, err)
	case status == http.StatusConflict:
		return false, nil
	case status != http.StatusOK && status != http.StatusCreated:
		return false, fmt.Errorf("write %s: apiserver says %d %s", what, status, firstLine(body))
	}
	return true, nil
}

// metricsServerAddresses are the IPv4 addresses of the UP KubernetesControllers in nodes,
// sorted: where the metrics-servers listen. (The cluster's nodes have IPv4 addresses; an
// EndpointSlice holds one family.)
func metricsServerAddresses(nodes upnodes.Set) []string {
	var addrs []string
	for _, n := range nodes {
		ip := net.ParseIP(n.GetStatus().GetExternalAddress())
		if n.GetRoles().GetKubernetesController() == nil || ip == nil || ip.To4() == nil {
			continue
		}
		addrs = append(addrs, ip.String())
	}
	slices.Sort(addrs)
	return addrs
}

// metricsEndpointSlice is the metrics-server Service's EndpointSlice for addrs.
func metricsEndpointSlice(addrs []string) map[string]any {
	endpoints := make([]map[string]any, 0, len(addrs))
	for _, a := range addrs {
		endpoints = append(endpoints, map[string]any{
			"addresses":  []string{a},
			"conditions": map[string]any{"ready": true},
		})
	}
	return map[string]any{
		"apiVersion": "discovery.k8s.io/v1",
		"kind":       "EndpointSlice",
		"metadata": map[string]any{
			"name":      kpki.MetricsServerService,
			"namespace": "kube-system",
			"labels": map[string]string{
				"metropolis.dev/managed":                 "true",
				"kubernetes.io/service-name":             kpki.MetricsServerService,
				"endpointslice.kubernetes.io/managed-by": endpointSliceSource,
			},
		},
		"addressType": "IPv4",
		"ports":       []map[string]any{{"name": metricsPortName, "port": int(ports.MetricsServer), "protocol": "TCP"}},
		"endpoints":   endpoints,
	}
}

// reconcileMetricsEndpoints makes the metrics-server Service's EndpointSlice list addrs (a
// compare-and-set: of controllers writing at once one wins, and the others find it right at
// their next sync). With no controller UP for a moment the slice is left as it is: the last
// ones known are still the best guess.
func (a *adminClient) reconcileMetricsEndpoints(ctx context.Context, addrs []string, logf func(string, ...any)) error {
	if len(addrs) == 0 {
		return nil
	}
	want := metricsEndpointSlice(addrs)
	wrote, err := a.ensure(ctx, "the metrics-server EndpointSlice", metricsSlicePath, want, func(installed []byte) (bool, error) {
		var have struct {
			Ports     any `json:"ports"`
			Endpoints any `json:"endpoints"`
		}
		err := json.Unmarshal(installed, &have)
		return err == nil && sameJSON(have.Ports, want["ports"]) && sameJSON(have.Endpoints, want["endpoints"]), err
	})
	if wrote {
		logf("metrics-server endpoints: %v", addrs)
	}
	return err
}

// sameJSON tells whether a and b encode to the same JSON, so that a value decoded from the
// apiserver compares equal to the literal it was made from.
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	if errA != nil || errB != nil {
		return false
	}
	var da, db any
	if json.Unmarshal(ja, &da) != nil || json.Unmarshal(jb, &db) != nil {
		return false
	}
	ja, _ = json.Marshal(da) // decoded JSON always encodes, with map keys sorted
	jb, _ = json.Marshal(db)
	return string(ja) == string(jb)
}
