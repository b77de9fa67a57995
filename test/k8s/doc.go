// Package k8s holds the end-to-end tests of the Kubernetes control plane on hosted clusters
// (root): readiness, upstream kubectl through metroctl's kubeconfig and credential plugin,
// failover between controllers through `metroctl k8s proxy`, role removal and addition, and
// the apiserver refusing certificates the Kubernetes CA did not issue.
//
// They run the built binaries as the user would: metropolis-node and metroctl are built into a
// temporary directory; the kube binary is $METROPOLIS_KUBE_BINARY if set (scripts/test builds
// out/bin/kube first), else built here, which takes about 12 minutes on a cold cache. Only the
// kube binary links k8s.io/kubernetes; this package does not import it.
package k8s
