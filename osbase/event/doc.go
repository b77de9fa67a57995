// Package event defines watchable values: the way Metropolis services share state with each
// other instead of through globals or ad-hoc channels.
//
// A Value holds the latest state of one thing (this node's roles, the network's addresses, the
// curator's leader). A producer Sets it; any number of consumers each Watch it and call Get in a
// loop. The contract is "level-triggered, latest wins": a watcher is never handed a backlog of
// stale states, only the newest one it has not yet seen, so a slow consumer simply skips
// intermediate values and a producer never waits for consumers. Code that must react to every
// transition (rather than to the current state) needs a queue, not an event value.
//
// This package holds only the interfaces and the Get options; the in-memory implementation lives
// in package memory. It owns no state itself and starts no goroutines. Users are the supervisor's
// runnables across the node: the network service publishing addresses, roleserve watching the
// node's roles, the curator client waiting for the node to be UP.
package event
