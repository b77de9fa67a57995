// Package core is the node program's top runnable: it makes the node itself (its keys), makes
// it part of a cluster (bootstrap a new one, register with an existing one, or join the one it
// belongs to), and then runs the node's services: the role workers (package roleserve) and the
// node management API (package nodemgmt).
//
// It owns the node's keys and its membership record in the state directory. Everything it
// needs from the machine comes through a platform.Platform, so the same code runs hosted and
// on the image.
//
// A node that holds an etcd member's data starts its role workers before it joins: on a small
// cluster its own curator may be the one it must join through. Every other node joins first,
// and a node the cluster refuses (deleted, or never approved) runs nothing but its management
// API and keeps saying why in its log.
package core
