// Package apiproxy passes TCP connections through to whichever Kubernetes apiserver of the
// cluster accepts them. Clients that take one server address (a kubelet's kubeconfig, an
// operator's kubectl) point at a local listener of a Proxy instead, and keep working when the
// controller they used goes away: `metroctl k8s proxy` on an operator's machine, and every
// worker node for its kubelet and its own Kubernetes clients.
//
// It relays bytes and never terminates TLS: the clients authenticate the apiserver (and it them)
// end to end, so the proxy holds no key.
package apiproxy
