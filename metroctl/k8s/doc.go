// Package k8s is metroctl's side of Kubernetes access: it writes the kubeconfig entries that
// `metroctl k8s configure` adds (merged into an existing kubeconfig, other entries untouched),
// encodes the ExecCredential that `metroctl k8s credential` prints for kubectl, and decides
// when the credential it cached may be handed out again (CachedCredential, Reusable).
// `metroctl k8s proxy` runs node/kubernetes/apiproxy.
//
// Why `metroctl k8s proxy`: a kubeconfig cluster has exactly one server URL, and neither kubectl nor an exec
// credential plugin can change it. The proxy listens on loopback and passes each TCP connection
// through, unchanged (TLS stays end to end between kubectl and an apiserver), to the first
// controller that accepts it, starting with the one that worked last. Every apiserver's serving
// certificate carries the name "kubernetes", so the kubeconfig names that as the TLS server name
// whichever controller answers.
//
// It imports nothing from k8s.io: kubeconfig and ExecCredential are small, stable YAML/JSON
// formats.
package k8s
