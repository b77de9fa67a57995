// Package connect owns how metroctl reaches a cluster: fetching the CA on first contact
// (trust on first use), finding the curator leader, and dialing the leader or one node's
// management service with TLS pinned to the cluster CA and the owner's credentials. All of it
// lives in connect.go so that it can be switched to the node's shared RPC helpers (node/rpc)
// in one place.
//
// It does not store anything (package metroctl/config does) and does not decide when to trust
// a CA: FetchCA returns what a server offered, and the caller shows its fingerprint and asks
// the operator. Its users are metroctl's commands and, through them, the launch tooling.
package connect
