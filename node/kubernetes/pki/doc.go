// Package pki owns the cluster's Kubernetes PKI: a Kubernetes CA separate from the cluster CA
// (so that no certificate of the cluster PKI, node certificates included, is ever accepted by
// the apiserver), the service-account signing key, and the leaf certificates issued from that
// CA for the components and for users.
//
// The CA and the service-account key are generated once, by whichever controller node gets
// there first, and stored in etcd under StoragePrefix with a create-if-absent transaction, so
// that every controller (and the curator, which issues user credentials) uses the same ones.
// Each controller issues its own serving and component client certificates at start, with
// fresh keys that never leave its state directory. LocalClient reads a component on the same
// node with such a certificate, trusting only this CA (the node's metrics port uses it).
//
// Keys are ECDSA P-256, not the ed25519 of the cluster PKI: the Kubernetes components read
// service-account keys with k8s.io/client-go/util/keyutil, which accepts RSA and ECDSA only, and
// one algorithm for the whole Kubernetes PKI keeps every component (and later the kubelet's CSR
// flow) on well-trodden code. This package imports nothing from k8s.io.
package pki
