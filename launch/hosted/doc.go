// Package hosted starts and stops local Metropolis clusters of hosted nodes: each node is a
// metropolis-node process in its own network namespace, on a private bridge, with its own
// address and state directory. It is what `metroctl cluster launch --hosted` and the end-to-end
// tests use.
//
// Launching does what an operator would do by hand, through the public API only: it bootstraps
// the first node with a fresh owner key, takes ownership (trusting the CA of the cluster it has
// just created), registers the other nodes with the cluster's ticket, approves them, and gives
// ConsensusMember to two of them (one at a time: etcd takes one learner at a time), so that
// three nodes hold consensus. It returns once every consensus member votes (a node reports
// its curator running only then), so a node lost right after launch costs no quorum. It reports each step as it goes.
//
// The cluster outlives the launcher: node processes are detached, and what destroy needs
// (process IDs, the network's name, the state directories) is kept in the cluster's directory.
// Destroy stops the processes, removes the network and deletes the cluster's state.
//
// It owns the cluster directory and the node processes. It does not own the network plumbing
// (package launch/netns) nor metroctl's contexts (package metroctl/config, which it writes to
// like `metroctl cluster takeownership` would).
package hosted
