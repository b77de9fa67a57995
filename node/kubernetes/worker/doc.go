// Package worker runs the Kubernetes worker of a node with the KubernetesWorker role:
// containerd (with runc and the CNI plugins ptp and host-local) and the kubelet, each a
// supervised child process, and, in the node process, the local apiserver proxy the kubelet
// reaches the controllers through, the pod network between nodes, the service proxy
// (node/kubernetes/svcproxy) and the cluster DNS (node/kubernetes/clusterdns). roleserve runs
// Service while the node has the role.
//
// What it owns: the worker's files under Config.StateDir (its certificates and kubeconfigs,
// containerd's content store and snapshots, the kubelet's root directory and pod logs) and
// under Config.RunDir (containerd's socket and state, the CNI configuration and address
// allocations, which mean nothing after a reboot); the container images shipped with the node
// (OCI archives in Config.ImagesDir), imported into containerd at every start and pinned, so
// the kubelet's image garbage collection never removes them.
//
// Credentials: the node asks the curator (IssueKubernetesWorkerCredentials) for the kubelet's
// client and serving certificates and for the client certificate of its service proxy and DNS,
// for keys made at every start that never leave the node process and the kubelet's files.
//
// Where it runs: only on a cgroup v2 host (the node image mounts the unified hierarchy). New
// refuses anything else with an error saying so, which is what a hosted node on a cgroup v1
// machine reports instead of starting a kubelet that would fail in obscure ways.
package worker
