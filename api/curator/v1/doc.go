// Package cpb is the curator's internal API (proto package metropolis.curator.v1): how nodes
// talk to the cluster's control service. The .proto files in this directory are the reference
// and their comments the documentation; the .pb.go files are generated from them by
// scripts/genproto and committed. Import it as cpb.
//
// Service Curator, served by the curator leader, covers a node's way into the cluster
// (RegisterNode, CommitNode, JoinNode, each proven by a key the node holds, since it has no
// usable certificate yet) and its life as a member (Watch, Heartbeat, UpdateNodeStatus,
// IssueCertificate, with its node certificate). Who may call each method is declared on the
// method (package api/authz) and listed in docs/api.md.
//
// storage.proto defines what the curator keeps in etcd (node records with their secrets, the
// CA, the cluster's owner key, the leader election value). Those messages never go over the
// wire; they are here so that one script generates all protobuf code.
//
// It is internal: only Metropolis nodes call it, and it changes together with the node
// program. Operators and tools use the public API, package apb. The package holds no
// hand-written logic; the curator implements the service and the node's cluster client calls
// it.
package cpb
