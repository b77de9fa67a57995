package metrics

import (
	"cmp"
	"encoding/json"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"

	"metropolis.dev/metropolis/node/ports"
)

// Member is a node of the cluster as the discovery document lists it.
type Member struct {
	ID string
	// Address is the node's IP address; a member without one is left out.
	Address string
	// Roles are the node's role names ("ConsensusMember", "KubernetesController",
	// "KubernetesWorker").
	Roles []string
}

// errNoMembers is served while the node has not heard the cluster's nodes yet.
var errNoMembers = errors.New("this node has not heard the cluster's nodes from the curator yet; ask again shortly or ask another node")

// targetGroup is one entry of Prometheus' HTTP service discovery format
// (https://prometheus.io/docs/prometheus/latest/http_sd/).
type targetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// componentsOf are the components a member serves with figures worth scraping: every node
// its program and machine, consensus members their etcd, Kubernetes controllers their
// apiserver, controller-manager and scheduler, Kubernetes workers their kubelet, cAdvisor and
// containerd.
func componentsOf(m Member) []string {
	c := []string{"node", "system"}
	if slices.Contains(m.Roles, "ConsensusMember") {
		c = append(c, "etcd")
	}
	if slices.Contains(m.Roles, "KubernetesController") {
		c = append(c, "apiserver", "controller-manager", "scheduler")
	}
	if slices.Contains(m.Roles, "KubernetesWorker") {
		c = append(c, "kubelet", "cadvisor", "containerd")
	}
	return c
}

// discoveryDocument is the target groups for members: one per member and component, whose
// labels set the scheme and path (so one Prometheus job scrapes every component) and name the
// node, its roles and the component. Sorted by node ID and component, so the document only
// changes when the cluster does.
func discoveryDocument(members []Member) []targetGroup {
	members = slices.Clone(members)
	slices.SortFunc(members, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	groups := []targetGroup{} // an empty cluster is [], not null
	for _, m := range members {
		if net.ParseIP(m.Address) == nil {
			continue
		}
		roles := slices.Clone(m.Roles)
		slices.Sort(roles)
		for _, component := range componentsOf(m) {
			groups = append(groups, targetGroup{
				Targets: []string{net.JoinHostPort(m.Address, strconv.Itoa(int(ports.Metrics)))},
				Labels: map[string]string{
					"__scheme__":       "https",
					"__metrics_path__": "/metrics/" + component,
					"node_id":          m.ID,
					"node_roles":       strings.Join(roles, ","),
					"component":        component,
				},
			})
		}
	}
	return groups
}

// marshalDiscovery renders the document served at /discovery.
func marshalDiscovery(members []Member) ([]byte, error) {
	return json.MarshalIndent(discoveryDocument(members), "", "  ")
}
