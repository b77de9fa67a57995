// Package apb is the public Metropolis API (proto package metropolis.api.v1): the services
// operators and tools call, and the node parameters a new node starts with. The .proto files
// in this directory are the reference and their comments the documentation; the .pb.go files
// are generated from them by scripts/genproto and committed. Import it as apb.
//
// Services, and where they are served:
//   - Discovery (every curator node, open to anyone): the cluster CA and the current leader.
//   - AAA (curator leader): Escrow, which turns proof of the owner key into an owner
//     certificate.
//   - Management (curator leader, owner certificate): register tickets, cluster info, the node
//     list, approving, roles, labels, deleting nodes.
//   - NodeManagement (every UP node, owner certificate): one node's status, logs, reboot,
//     shutdown, loading container images.
//
// Who may call each method is declared on the method (package api/authz) and listed in
// docs/api.md.
//
// Besides generated code the package holds ValidateNodeParameters, the check every consumer
// of NodeParameters (the node at first start, metroctl and the launch tooling writing them)
// runs, so that a wrong field is reported by name before anything acts on it, and
// StaticNetwork, which turns a NetworkConfig into the checked configuration the node applies
// (with osbase/ipconfig, so the API and the node keep one set of rules). The package does
// not read or write parameters from disks or firmware, and does not implement any service;
// the node's startup code and the curator do.
package apb
