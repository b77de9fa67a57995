// Package authz owns who may call which Metropolis gRPC method: the permission vocabulary and
// the per-method declaration (authz.proto, the `authz` method option), the table of which kind
// of caller holds which permission (Granted), and the decision for one call (Decide).
//
// Every method of every Metropolis service declares either the permissions its caller needs or
// that it is open to unauthenticated callers (and then checks its caller itself: a register
// ticket, a self-signed key). Declarations live in the .proto files, next to the methods they
// protect, and are read back from the protobuf registry at run time, so the documentation, the
// generated code and the enforcement cannot drift apart. CheckServices finds methods that
// declare nothing or something contradictory; the package's tests run it over every
// Metropolis service, so a new method without a declaration fails the build's tests rather
// than shipping open.
//
// It does not look at certificates. Deciding which Kind a caller is (owner certificate, node
// certificate, none) belongs to the gRPC interceptors of the curator and the node management
// server, which verify the TLS peer against the cluster CA (package node/pki) and then ask
// Decide. Their TLS configuration must request client certificates without verifying them
// (tls.RequestClientCert): a self-signed certificate has to reach the open methods that check
// it themselves (escrow, node registration), and anything not chaining to the CA is
// KindAnonymous. Decisions here are pure functions of the method name and the Kind, so they
// are tested as tables.
//
// Users: the gRPC servers' interceptors (curator, node management), and docs/api.md, whose
// permission table this package's tests keep honest.
package authz
