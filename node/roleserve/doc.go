// Package roleserve runs what a node's roles ask of it, for as long as they ask. It watches the
// node's own record at the curator (Curator.Watch) and publishes its roles as a watchable value
// (Roles); each role worker follows that value:
//
//   - consensus: with ConsensusMember, this node's etcd member (package consensus), joined with
//     the peer list and certificate the curator hands out, and the curator service (package
//     curator) on top of it. A node that already holds a member's data starts it at once,
//     without waiting for the curator: on a small cluster this node's curator may be the one
//     it would be waiting for. When the role is removed, the worker stops the member and deletes
//     its data (the curator has already removed it from etcd). The member's etcd certificate is
//     renewed when due, and the member restarted with it.
//   - kubernetes: with KubernetesController, the control plane (package kubernetes) on this
//     node's etcd member.
//   - kubernetes-worker: with KubernetesWorker, containerd and the kubelet (package
//     kubernetes/worker).
//   - heartbeat and status: the node tells the curator it is alive every few seconds, and
//     reports its address and whether it runs a curator.
//   - curators: the cluster's UP nodes that run a curator (package curator/upnodes), so the
//     node finds the leader after the curators it first knew are gone; published as a value
//     (Curators).
//   - renew-certificate: the node certificate, renewed at two thirds of its lifetime and
//     swapped in place (pki.Renewable).
//
// Everything the node keeps of this (roles for the storage key's escrow, curators, renewed
// certificates) it reads from those values; package core watches and persists them. It owns
// the consensus certificate file and the member's data directory in the state directory. It
// does not decide roles (the curator does) and does not enrol the node (package core does,
// before starting this).
package roleserve
