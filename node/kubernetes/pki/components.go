package pki

import (
	"net"
)

// Identities Kubernetes grants by certificate. The component names are the ones the apiserver's
// default RBAC policy binds; the rest are ours.
const (
	// UserControllerManager and UserScheduler are bound by the default RBAC roles.
	UserControllerManager = "system:kube-controller-manager"
	UserScheduler         = "system:kube-scheduler"
	// UserAPIServerKubelet is the apiserver's identity towards kubelets (bound to
	// system:kubelet-api-admin, for logs, exec and port-forward).
	UserAPIServerKubelet = "metropolis:apiserver-kubelet-client"
	// UserController is the node's own controller runnable, which sets up RBAC bindings after
	// the apiserver is ready; it alone is in system:masters.
	UserController = "metropolis:controller"
	GroupMasters   = "system:masters"
	// UserOwner is who the cluster owner is to Kubernetes (bound to cluster-admin).
	UserOwner = "metropolis:owner"
	// UserCurator is the curator leader carrying out a rollout: it cordons, drains and
	// uncordons nodes (bound to the ClusterRole of the same name, which allows only that).
	UserCurator = "metropolis:curator"
	// UserProxy is each worker's network runnables (service proxy, pod network, NetworkPolicy)
	// and local volume loops, bound by the default RBAC policy to system:node-proxier and by us
	// to RoleNetworkPolicy, RoleNodeMetrics and RoleLocalVolumes.
	UserProxy = "system:kube-proxy"
	// RoleNetworkPolicy lets a worker read what NetworkPolicies are judged by: pods, namespaces
	// and the policies.
	RoleNetworkPolicy = "metropolis:network-policy"
	// RoleNodeMetrics lets a worker's node program read its kubelet's figures (nodes/metrics:
	// the kubelet's /metrics and cAdvisor's /metrics/cadvisor) for the node's metrics port.
	RoleNodeMetrics = "metropolis:node-metrics"
	// RoleLocalVolumes lets a worker provision, delete and grow its local volumes and publish
	// its storage capacity (node/kubernetes/localvolume/provision).
	RoleLocalVolumes = "metropolis:local-volumes"
	// UserMetricsReader is a controller's node program reading its control plane's figures
	// (the apiserver's, controller-manager's and scheduler's /metrics) for the node's metrics
	// port: bound to the ClusterRole of the same name, which allows only that.
	UserMetricsReader = "metropolis:metrics-reader"
	// UserMetricsServer is the metrics-server on each controller (the resource metrics API
	// behind `kubectl top` and autoscaling): it reads the kubelets' /metrics/resource, and asks
	// the apiserver who is calling it. Bound to the ClusterRole of the same name and to
	// system:auth-delegator.
	UserMetricsServer = "metropolis:metrics-server"
	// UserFrontProxy is the apiserver passing a request on to an aggregated API (the resource
	// metrics API), with a certificate of the front proxy CA (EnsureFrontProxyCA).
	UserFrontProxy = "metropolis:front-proxy-client"
	// MetricsServerService is the Service in kube-system that the resource metrics API's
	// APIService names; its endpoints are the controllers' metrics-servers.
	MetricsServerService = "metrics-server"
)

// ServiceIP is the first address of the service range (10.96.0.0/12): the in-cluster
// "kubernetes" service, which pods dial by this address.
var ServiceIP = net.IPv4(10, 96, 0, 1)

// DNSServiceIP is the ClusterIP of the kube-dns Service in kube-system, which tools and charts
// look up to find the cluster DNS. No pod stands behind it: every worker binds it next to its
// own cluster DNS address and answers there, so the service proxy leaves it alone.
var DNSServiceIP = net.IPv4(10, 96, 0, 10)

// ServingRequest is the apiserver serving certificate of the controller at address: valid for
// the address clients dial, the in-cluster names, the service IP and loopback (the components
// on the same node).
func ServingRequest(address net.IP) Request {
	return Request{
		CommonName: "kube-apiserver",
		DNSNames: []string{
			"kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local", "localhost",
		},
		IPAddresses: []net.IP{address, ServiceIP, net.IPv4(127, 0, 0, 1)},
		Server:      true,
		Validity:    ComponentValidity,
	}
}

// LoopbackServingRequest is the serving certificate of a component that listens on loopback
// only (the controller-manager's and scheduler's secure ports), for 127.0.0.1 and localhost:
// so that the node program reading their figures can check whom it reads.
func LoopbackServingRequest(component string) Request {
	return Request{
		CommonName:  component,
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		Server:      true,
		Validity:    ComponentValidity,
	}
}

// MetricsServerServingRequest is the serving certificate of the metrics-server of the
// controller at address: valid for the name the apiserver checks when it passes a request on
// to the metrics-server Service (SERVICE.NAMESPACE.svc), whichever controller's metrics-server
// answers, and for the address itself.
func MetricsServerServingRequest(address net.IP) Request {
	return Request{
		CommonName:  MetricsServerService,
		DNSNames:    []string{MetricsServerService + ".kube-system.svc"},
		IPAddresses: []net.IP{address},
		Server:      true,
		Validity:    ComponentValidity,
	}
}

// ClientRequest is a component's client certificate.
func ClientRequest(user string, groups ...string) Request {
	return Request{CommonName: user, Organizations: groups, Validity: ComponentValidity}
}
