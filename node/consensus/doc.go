// Package consensus runs this node's member of the cluster's etcd, embedded in the node program
// (go.etcd.io/etcd/server/v3/embed), and gives the rest of the node a client to it.
//
// It owns the member's data directory (WAL and snapshots, on the data partition) and the TLS
// material etcd reads from disk there. It does not decide who is a member: the curator does,
// using the membership helpers here (AddLearner, PromoteLearner, RemoveNodeMember,
// RemoveMemberByID) and handing a joining node the member list it starts with.
//
// Peers authenticate with certificates from the cluster CA, both ways, and must present a
// consensus certificate (common name PeerCommonName): every other certificate of the cluster
// (a node's, the owner's) is refused, so etcd is reachable only through the curator. The
// etcd certificates of a node that is no longer a member (its role removed, or deleted) are
// refused by the cluster's revocation list, which the curator keeps and the node writes where
// etcd reads it on every connection (WriteRevocationList). Clients are served on loopback
// only, to the same consensus certificates (the node's own apiserver); the curator uses an
// in-process client. A member started for the first time
// either bootstraps a new one-member cluster or joins an existing one as a learner (a
// non-voting member that catches up before it is promoted, so a slow newcomer never costs the
// cluster its quorum). A member restarted with a data directory rejoins from it and ignores its
// initial configuration, so nothing acknowledged before the restart is lost.
//
// The Service is a supervisor runnable; its state (a ready client, or none) is published as a
// watchable value, never through globals.
package consensus
