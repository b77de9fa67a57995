// Package k8sbench measures the Kubernetes control plane on hosted clusters: the resident
// memory of an idle controller node (the node process, which holds etcd and the curator, plus
// its apiserver, controller-manager and scheduler children) and the time from granting
// KubernetesController to the node's apiserver answering /readyz ok. The command
// bench/k8s/cmd/k8sbench runs both and prints a section for docs/benchmarks.md.
package k8sbench
