// Package rpc is the gRPC plumbing every Metropolis server and client shares: who a caller is
// and whether it may make a call (server side), and how to reach a cluster, a node or the
// curator leader with the right TLS (client side).
//
// # Server side
//
// A Metropolis server (the curator, node management) listens with ServerTLSConfig, which
// requests a client certificate but does not verify it during the handshake, and installs an
// Authorizer's interceptors (or just uses ServerOptions). For every call the Authorizer:
//
//  1. classifies the caller from its TLS certificate: a user certificate from the cluster CA
//     is an owner (authz.KindOwner), a node certificate a node (authz.KindNode), and anything
//     else (no certificate, self-signed, another CA, expired, a service certificate) is
//     anonymous. The public key of whatever certificate was presented is kept, because the TLS
//     handshake proved the caller holds its private key: that is how the open methods (escrow,
//     node registration) authenticate;
//  2. asks authz.Decide whether that kind may call the method;
//  3. for a node calling a method that needs permissions, asks the server's NodeChecker
//     whether the node is still a member in good standing, so that a deleted node's
//     still-valid certificate is refused (certificates are not revoked, see package pki);
//  4. puts the caller (a Peer) into the call's context, where handlers find it with
//     PeerFromContext.
//
// # Client side
//
// DialNode reaches one node, DialCluster any of a list of nodes, and DialCurator the curator
// leader of a cluster given any of its nodes' addresses. All pin the cluster CA: a server must
// present a node certificate from it. SelfSignedCertificate makes the certificate a caller
// without a cluster certificate presents to prove its key (registration, escrow, join), and
// FetchCACertificate is metroctl's trust-on-first-use step.
//
// # Reaching the leader
//
// Only the curator leader serves Management, AAA and Curator; other curators answer
// codes.Unavailable (and serve Discovery). Followers do not forward calls: forwarding would
// have to re-assert on the leader an identity that was proven in a TLS handshake with the
// follower, which makes every curator a trusted proxy for every other. Instead DialCurator's
// connection resolves the leader itself: it follows Discovery.GetCurrentLeader on the given
// addresses (moving on to the next address when one fails), dials the leader it names,
// checks that the server there has that leader's node certificate, and retries unary calls
// that fail with codes.Unavailable until the caller's context ends. A failover therefore
// shows to a unary caller as a slower call, not an error; a streaming caller sees its stream
// end and opens it again. A curator that names itself is dialed where it was reached (port
// forwarding keeps working). This is the one leader resolver: nodes, metroctl (through
// metroctl/connect), the launchers, tests and benchmarks all use it. WaitForLeader lets a
// short-lived client fail at once, with the reason, when no address leads anywhere;
// CurrentLeader answers "who leads now" for callers that need the name, not a connection.
//
// It does not decide permissions (package api/authz does) or issue certificates (package
// pki, driven by the curator). Users: the curator and node management servers, the node's
// cluster client, metroctl, and tests.
package rpc
