// Package image is the platform of a Metropolis node booted from its disk image: the node
// program is PID 1 on a machine whose root is the verified, read-only system partition (set
// up by cmd/metropolis-init), with nothing else running.
//
// It owns what differs from the hosted platform: preparing the machine as PID 1 (pseudo file
// systems, cgroups, kernel modules), reaping orphaned processes, node parameters from the ESP
// or QEMU's fw_cfg, the network, the encrypted data partition (created on the first boot,
// dm-crypt, its key's node half sealed to the TPM on the ESP), and powering off or rebooting.
//
// PID 1 splits in two. The init process (RunInit) prepares the machine, starts the node
// program as its only child and reaps every process that ends up orphaned; the node program
// (this package's Platform under node/core) runs all services and waits on its own children.
// Orphans are re-parented to PID 1, never to the node program, so reaping them can never
// steal an exit status the supervisor waits for. When the node program ends, its exit code
// says whether to power off or reboot; the init process stops what is left, unmounts and
// does it.
package image
