// Package ports names the TCP ports a Metropolis node listens on, in one place, so that the
// node, metroctl, the launcher and the documentation (ARCHITECTURE.md) agree on them. It owns
// numbers only; which service binds what is decided by that service's package.
package ports

// Port is a TCP port a node serves on, on every address it has.
type Port uint16

const (
	// ConsensusClient is etcd's client port: curators and, on controller nodes, the Kubernetes
	// apiserver talk to the cluster's etcd over it, with mutual TLS from the cluster PKI.
	ConsensusClient Port = 7833
	// ConsensusPeer is etcd's peer (Raft) port between consensus members, mutual TLS.
	ConsensusPeer Port = 7834
	// Curator serves the public Management/AAA API and the node-facing Curator API.
	Curator Port = 7835
	// NodeManagement serves the per-node API: status, logs, reboot, shutdown.
	NodeManagement Port = 7836
	// Metrics serves Prometheus metrics per component (node/metrics) over mutual TLS, to
	// metrics credentials only.
	Metrics Port = 7837
	// KubernetesAPI is the Kubernetes apiserver on controller nodes.
	KubernetesAPI Port = 6443
	// KubernetesAPIProxy is, on worker nodes, a loopback-only listener that passes connections
	// to a controller's apiserver (node/kubernetes/apiproxy): the kubelet's server.
	KubernetesAPIProxy Port = 6444
	// Kubelet is the kubelet's API on worker nodes (logs, exec, metrics), reached by the
	// apiservers with certificates from the Kubernetes CA.
	Kubelet Port = 10250
	// ControllerManager and Scheduler are those components' secure ports on controller nodes,
	// loopback only: their health and figures, read by the node program.
	ControllerManager Port = 10257
	Scheduler         Port = 10259
	// ContainerdMetrics is, on worker nodes, containerd's metrics listener on loopback only;
	// the node's metrics port serves what it says (node/metrics).
	ContainerdMetrics Port = 1338
	// MetricsServer is the metrics-server's secure port on controller nodes, on the node's
	// address: the resource metrics API (`kubectl top`), which the apiservers pass requests on
	// to with the front proxy certificate.
	MetricsServer Port = 10251
	// NTP (UDP) is where consensus members answer NTP requests (node/timesync): the cluster's
	// time reference serves its clock there, and the other nodes ask it.
	NTP Port = 123
)
