// Package connect is how metroctl and the tools built on its contexts (the launchers, tests,
// benchmarks) reach a cluster: fetching the CA on first contact (trust on first use), and
// connecting to the curator leader or to one node's management service with TLS pinned to the
// cluster CA and the owner's credentials.
//
// It adds no protocol of its own: the leader is found and followed by node/rpc (DialCurator,
// the one resolver every client of the cluster uses), so a connection outlives leader
// changes; connect only turns a context into the arguments, and a failure into an
// UnreachableError that names the context's endpoints.
//
// It does not store anything (package metroctl/config does) and does not decide when to trust
// a CA: FetchCA returns what a server offered, and the caller shows its fingerprint and asks
// the operator.
package connect
