// Package identity owns what makes a Metropolis node itself before any cluster knows it: its
// ed25519 key pair and the node ID derived from the public key. The node parameters a node is
// given at first start are a protobuf message (api/v1 NodeParameters, validated there).
//
// It does not issue or verify certificates (package node/pki does, and uses the node ID defined
// here as a node certificate's common name), and it does not store anything: the caller decides
// where the private key lives (the node's data partition; a test's temporary directory).
//
// Users: the node's startup code (generates or loads its key), the curator
// (names nodes by ID), metroctl and the launch tooling.
//
// # Node IDs
//
// A node ID is "metropolis-" followed by the lowercase hex of the first 8 bytes of the node's
// ed25519 public key, e.g. "metropolis-3b6a27bcceb6a42d". It is stable for the life of the key
// and needs no registry to compute. It is a name, not a proof: anything that authenticates a node
// compares the full public key (in a certificate or the curator's node registry), never just the
// ID. 64 bits keep accidental collisions out of reach for any cluster size and make grinding a
// key to match a chosen ID impractical (about 2^64 key generations).
//
// # Key encodings
//
// Private keys are PKCS#8, public keys PKIX (SubjectPublicKeyInfo), each as DER or as a single
// PEM block ("PRIVATE KEY", "PUBLIC KEY"). Parsing is strict: one block, no trailing data, and
// only ed25519 keys are accepted, because every key in a cluster is ed25519.
package identity
