// Package platform is the thin layer between a Metropolis node and what it runs on. Everything
// above it (enrolment, consensus, curator, roles, Kubernetes) is the same code on every
// platform; everything below it differs: where the node's state lives, where its parameters
// come from, which address it has, and what reboot and shutdown mean.
//
// Two platforms implement it: hosted (package platform/hosted: an ordinary process in its own
// network namespace with a state directory standing in for the data partition, for development
// and tests; not a security boundary) and the image (package platform/image: PID 1 on real or
// virtual hardware, with a verified system partition and a data partition encrypted under a
// key whose record is sealed to the TPM).
package platform

import (
	"context"
	"net"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/osbase/netconfig"
	"metropolis.dev/metropolis/osbase/tpm"
)

// Platform is what the node needs from the machine it runs on.
type Platform interface {
	// Kind names the platform in logs and status ("hosted", "image").
	Kind() string
	// StateDir is the root of the node's persistent state: the mounted data partition, or a
	// hosted node's state directory. It exists when the node starts.
	StateDir() string
	// Parameters returns the node parameters this node was given, or nil if it was given none
	// (a node that already belongs to a cluster needs none). Invalid parameters are an error
	// naming what is wrong.
	Parameters() (*apb.NodeParameters, error)
	// Address is the address other nodes and operators reach this node at when it starts.
	Address(ctx context.Context) (net.IP, error)
	// Network is the node's network, which the node reconfigures as its configuration says
	// while it runs; nil where the network is not the node's to change (hosted: the
	// launcher's namespace).
	Network() *netconfig.Service
	// Reboot restarts the node; Shutdown stops it. Both return once the request is accepted;
	// the node then stops its services and goes down.
	Reboot(ctx context.Context) error
	Shutdown(ctx context.Context) error
	// Storage is the node's data partition (StateDir) and its sealed unlock record.
	Storage() Storage
	// Updates is the A/B update mechanism (node/update): installing releases, the trial of a
	// new one, what the slots hold. nil where the platform has no system slots (hosted).
	Updates() *update.Service
	// OpenAttestor opens the machine's TPM for remote attestation (the caller closes it), or
	// returns nil where there is no TPM (hosted).
	OpenAttestor() (*tpm.Attestor, error)
}
