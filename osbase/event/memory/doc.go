// Package memory is the in-process implementation of event.Value: a mutex-protected latest value
// plus a broadcast channel that is closed on every Set.
//
// It owns nothing but the value it holds. Every service that publishes state to other services in
// the same node process uses it; values that must outlive the process or be shared across nodes
// belong in etcd (through the curator), not here.
package memory
