package kubernetes

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/curator/upnodes"
)

func TestMetricsServerAddresses(t *testing.T) {
	node := func(addr string, controller bool) *cpb.Node {
		n := &cpb.Node{Status: &apb.NodeStatus{ExternalAddress: addr}, Roles: &cpb.NodeRoles{}}
		if controller {
			n.Roles.KubernetesController = &cpb.KubernetesController{}
		}
		return n
	}
	for _, tc := range []struct {
		name  string
		nodes upnodes.Set
		want  []string
	}{
		{"no nodes", upnodes.Set{}, nil},
		{"controllers only, sorted", upnodes.Set{
			"a": node("10.0.0.3", true), "b": node("10.0.0.2", true), "w": node("10.0.0.9", false),
		}, []string{"10.0.0.2", "10.0.0.3"}},
		{"a controller without an address yet is left out", upnodes.Set{"a": node("", true), "b": node("10.0.0.2", true)}, []string{"10.0.0.2"}},
		{"IPv6 is left out of the IPv4 slice", upnodes.Set{"a": node("fd00::1", true)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := metricsServerAddresses(tc.nodes); !slices.Equal(got, tc.want) {
				t.Errorf("metricsServerAddresses = %v, want %v", got, tc.want)
			}
		})
	}
}

// fakeAPIServer keeps one object per path, with a resourceVersion, and refuses a PUT with a
// stale one: enough of the apiserver for the compare-and-set of a reconciler.
type fakeAPIServer struct {
	mu      sync.Mutex
	objects map[string]map[string]any
	version int
	writes  int
}

func (f *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	var obj map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &obj); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	path := r.URL.Path
	switch r.Method {
	case http.MethodGet:
		o, ok := f.objects[path]
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(o)
		return
	case http.MethodPost:
		path += "/" + obj["metadata"].(map[string]any)["name"].(string)
		if _, ok := f.objects[path]; ok {
			http.Error(w, "exists", http.StatusConflict)
			return
		}
	case http.MethodPut:
		have, ok := f.objects[path]
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if obj["metadata"].(map[string]any)["resourceVersion"] != have["metadata"].(map[string]any)["resourceVersion"] {
			http.Error(w, "the object has been modified", http.StatusConflict)
			return
		}
	}
	f.version++
	f.writes++
	obj["metadata"].(map[string]any)["resourceVersion"] = strconv.Itoa(f.version)
	f.objects[path] = obj
	if r.Method == http.MethodPost {
		w.WriteHeader(http.StatusCreated)
	}
	_ = json.NewEncoder(w).Encode(obj)
}

func newFakeAdmin(t *testing.T) (*adminClient, *fakeAPIServer) {
	f := &fakeAPIServer{objects: map[string]map[string]any{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &adminClient{server: srv.URL, http: srv.Client()}, f
}

// TestReconcileMetricsEndpoints creates the slice, leaves it alone while it is right, follows
// a change of controllers, and keeps the last controllers known when none is UP.
func TestReconcileMetricsEndpoints(t *testing.T) {
	ctx := context.Background()
	a, f := newFakeAdmin(t)
	logf := t.Logf
	slicePath := metricsSlicePath + "/metrics-server"
	endpoints := func() []string {
		var ips []string
		for _, e := range f.objects[slicePath]["endpoints"].([]any) {
			ips = append(ips, e.(map[string]any)["addresses"].([]any)[0].(string))
		}
		return ips
	}
	steps := []struct {
		addrs      []string
		wantIPs    []string
		wantWrites int
	}{
		{[]string{"10.0.0.1"}, []string{"10.0.0.1"}, 1},
		{[]string{"10.0.0.1"}, []string{"10.0.0.1"}, 1},
		{[]string{"10.0.0.1", "10.0.0.2"}, []string{"10.0.0.1", "10.0.0.2"}, 2},
		{nil, []string{"10.0.0.1", "10.0.0.2"}, 2},
	}
	for i, s := range steps {
		if err := a.reconcileMetricsEndpoints(ctx, s.addrs, logf); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := endpoints(); !slices.Equal(got, s.wantIPs) || f.writes != s.wantWrites {
			t.Errorf("step %d: endpoints %v after %d writes, want %v after %d", i, got, f.writes, s.wantIPs, s.wantWrites)
		}
	}
	labels := f.objects[slicePath]["metadata"].(map[string]any)["labels"].(map[string]any)
	if labels["kubernetes.io/service-name"] != "metrics-server" {
		t.Errorf("the slice's service-name label is %v: the apiservers would not find it", labels["kubernetes.io/service-name"])
	}
}

// TestReconcileMetricsEndpointsLosesARaceQuietly: a controller whose read is stale by the
// time it writes gets a conflict, which is not an error (the winner wrote the same).
func TestReconcileMetricsEndpointsLosesARaceQuietly(t *testing.T) {
	ctx := context.Background()
	a, f := newFakeAdmin(t)
	if err := a.reconcileMetricsEndpoints(ctx, []string{"10.0.0.1"}, t.Logf); err != nil {
		t.Fatal(err)
	}
	// Another controller's write lands between this one's read and write.
	stale := a.http.Transport
	a.http.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPut {
			f.mu.Lock()
			f.version++
			f.objects[metricsSlicePath+"/metrics-server"]["metadata"].(map[string]any)["resourceVersion"] = strconv.Itoa(f.version)
			f.mu.Unlock()
		}
		return stale.RoundTrip(r)
	})
	if err := a.reconcileMetricsEndpoints(ctx, []string{"10.0.0.1", "10.0.0.2"}, t.Logf); err != nil {
		t.Errorf("a lost compare-and-set: %v, want no error", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestInstallMetricsAPI creates the APIService once, and replaces one naming another CA.
func TestInstallMetricsAPI(t *testing.T) {
	ctx := context.Background()
	a, f := newFakeAdmin(t)
	for i, ca := range []string{"CA one", "CA one", "CA two"} {
		if err := a.installMetricsAPI(ctx, []byte(ca)); err != nil {
			t.Fatalf("install %d: %v", i, err)
		}
	}
	if f.writes != 2 {
		t.Errorf("%d writes, want 2 (create, then replace for the new CA)", f.writes)
	}
	spec := f.objects[apiServicesPath+"/"+metricsAPIService]["spec"].(map[string]any)
	if spec["caBundle"] != b64([]byte("CA two")) || spec["group"] != "metrics.k8s.io" {
		t.Errorf("APIService spec %v, want the metrics.k8s.io group with the second CA", spec)
	}
}
