// Package kubernetes runs the Kubernetes control plane of a controller node: the apiserver,
// controller-manager and scheduler, each a child process of the multicall `kube` binary
// (cmd/kube) run with supervisor.RunCommand under its own runnable, restarted alone when it
// fails. roleserve runs Service while the node has the KubernetesController role.
//
// What it owns: the files under Config.StateDir (certificates, keys and kubeconfigs of the
// components, written anew at every start), the local socket through which the apiserver
// reaches etcd, and the RBAC binding that makes the cluster owner (metropolis:owner, see
// node/kubernetes/pki) a cluster-admin. The Kubernetes PKI itself is package pki's.
//
// How the apiserver reaches etcd: etcd serves clients on loopback only, with mutual TLS from
// the cluster PKI and a serving certificate valid for the node's address rather than loopback.
// So this node process listens on a unix socket in the state directory (mode 0600) and forwards
// each connection to the local member over TLS, verifying the member's consensus certificate and
// presenting the node's consensus client certificate. The Kubernetes processes never see a key
// of the cluster PKI (the node's key stays in the node process): their own keys are issued by
// the Kubernetes CA. Because etcd is local-only, a controller must also be a consensus member;
// roleserve starts this service only on a node whose etcd member runs.
//
// It imports nothing from k8s.io: the components are configured by flags and files, and
// readiness and the RBAC binding are plain HTTPS calls.
package kubernetes
