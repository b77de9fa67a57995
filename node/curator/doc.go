// Package curator is the cluster's control service: the node registry and its state machine,
// the register ticket, approval, roles and consensus membership, heartbeats and health,
// certificate issuance, and the owner's credentials. It implements the public Management, AAA
// and Discovery services (package apb) and the node-facing Curator service (package cpb).
//
// # Where it runs
//
// Every consensus member runs a curator (Service.Run, a supervisor runnable) next to its etcd
// member, on the node's curator port. The curators elect a leader through etcd (a lease of a
// few seconds; a stopping leader gives the lease up at once, a vanished one loses it when it
// expires). Only the leader serves Management, AAA and Curator; the others answer
// codes.Unavailable naming the leader, and every curator serves Discovery, whose
// GetCurrentLeader stream is how clients (rpc.DialCurator) find the leader. Followers do not
// forward calls; package rpc explains why.
//
// # State
//
// Everything lasting is in etcd under /metropolis/curator/ (see keys.go): the cluster record
// (cluster ID, owner key), the CA certificate and key, the register ticket, and one record per
// node (cpb.NodeRecord: keys, state, roles with their configuration, labels, the node's last
// status report, the cluster half of its storage key). The leader writes only in
// transactions conditional on still holding its election key, so a deposed leader that has
// not noticed yet cannot write, and it serializes its read-modify-write cycles with a mutex.
//
// Heartbeat arrival times are kept in the leader's memory only: writing each heartbeat to
// etcd would cost a Raft round per node every few seconds for nothing that must survive a
// failover. A new leader therefore knows no heartbeats; it reports nodes' health as UNKNOWN
// for one heartbeat timeout (the grace period in which every live node reconnects and beats)
// before it reports a silent node as HEARTBEAT_TIMEOUT.
//
// # Deleted nodes and stray etcd members
//
// Certificates are never revoked; a node that is not UP is refused instead: by the authorizer
// when a call starts, again by each node-facing handler on the record it acts on
// (calling_node.go), and a node's Watch and Heartbeat streams end when its record leaves UP.
// Deleting a node removes its etcd member whatever its record says, and the leader removes
// etcd learners that no node holding the consensus member role accounts for after
// Config.OrphanLearnerGrace (orphan_learners.go): a role grant that failed after adding the
// learner would otherwise block every later grant, since etcd admits one learner at a time.
//
// # Bootstrap
//
// The first node creates the CA itself (NewClusterCA), issues its own etcd certificate from it
// (IssueConsensusCertificate), starts a one-member etcd, and then calls Bootstrap with the CA,
// which stores the CA and the owner key and records the node as UP with the consensus member
// and Kubernetes controller roles, and returns the node's certificate. Then it starts its
// curator.
//
// # Decisions and their tests
//
// What may happen to a node (node_transitions.go), which role sets are valid (roles.go),
// which labels are valid (labels.go) and how healthy a node is (health.go) are pure functions,
// tested as tables. The handlers (impl_*.go) read and write etcd around them.
//
// It does not run etcd (package consensus), decide which methods a kind of caller may call
// (package api/authz), classify callers (package rpc), or start role workers on nodes
// (roleserve, from Curator.Watch). Users: the node program (bootstraps, runs the service),
// the node's cluster client, metroctl (through Management, AAA and Discovery).
package curator
