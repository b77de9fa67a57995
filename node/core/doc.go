// Package core is the node program's top runnable: it makes the node itself (its keys), opens
// its storage, makes it part of a cluster (bootstrap a new one, register with an existing one,
// or join the one it belongs to), and then runs the node's services: the role workers (package
// roleserve) and the node management API (package nodemgmt).
//
// It owns the node's keys and its one record of itself and its cluster, the sealed record
// (through platform.Storage): storage key halves, join key, CA, curators, node certificate. Everything it needs from the machine comes through a
// platform.Platform, so the same code runs hosted and on the image.
//
// What a start does is decided by pure functions of what the node finds (startup.go:
// decideEnrolment, decideStart), which Node.Run carries out. A node that holds an etcd
// member's data starts its role workers before it joins: on a small cluster its own curator
// may be the one it must join through. Every other node joins first, and a node the cluster
// refuses (deleted, or never approved) runs nothing but its management API and keeps saying
// why in its log.
//
// It shares state with roleserve only through watchable values: roleserve publishes the
// node's roles and the cluster's curators, the node certificate is a pki.Renewable, and the
// keep* runnables (keep.go) write each change to the sealed record. The one call the other way is
// roleserve.Config.OnMemberReady, a step of the consensus worker (the first node creates its
// cluster there before its curator starts).
package core
