// Package e2e holds the end-to-end tests of the cluster core on hosted nodes: real
// metropolis-node processes, each in its own network namespace (package launch/hosted), with
// real etcd and real TLS, driven only through the cluster's public API (Management, Discovery,
// NodeManagement, and the node-facing Curator API where a test plays a node).
//
// Each test launches its own cluster, asserts what an operator would observe (node states,
// health, roles, labels, consensus membership, which callers the API lets through) while it
// kills processes, cuts links or restarts nodes, and destroys the cluster afterwards. On
// failure it prints the tail of every node's console log.
//
// The tests need root (network namespaces); elsewhere they skip and say so. TestMain builds
// metropolis-node once for all of them. The package owns no product code: it is the
// specification the node program, the curator and the launcher must keep together. CI runs it
// with the rest of `go test ./...`.
package e2e
