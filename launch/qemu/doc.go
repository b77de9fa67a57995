// Package qemu starts and stops local Metropolis clusters of QEMU virtual machines booting the
// real node image: each node is a q35 VM with OVMF (UEFI) firmware, its own software TPM
// (swtpm), a copy-on-write overlay of the built disk image, and a virtio network card on a
// tap device. It is what `metroctl cluster launch` (without --hosted) and the image's boot
// tests use.
//
// The VMs share a private network: a bridge in the host's namespace made by package
// launch/netns (named like a hosted cluster's, "mp-NAME", holding the subnet's first address)
// and one tap per VM ("mp-NAME-i", the name netns gives node links, so netns.DestroyByName
// removes them too). The host reaches every node's API directly at its address on the bridge;
// nothing is port-forwarded. Each node gets a static address in its parameters, which reach the
// guest through QEMU's fw_cfg (layout.FwCfgParametersName), for a network card whose MAC
// address is derived from the cluster's name and the node's number.
//
// Launching follows the hosted launcher step by step, through the public API only: bootstrap
// the first node, take ownership, register the others with the cluster's ticket, approve them,
// and make the first three consensus members. It reports each step, and while waiting says
// every few seconds what it waits for; when a step fails it prints the end of the failing
// node's serial console.
//
// The cluster outlives the launcher: QEMU and swtpm run detached (their own session), and what
// destroy needs (process IDs, the network's name, the node directories) is kept in the cluster
// directory. Per node, under DIR/nodeN: console.log (the serial console, appended across boots),
// qemu.log (QEMU's own messages), swtpm.log, parameters.pb, disk.qcow2, OVMF_VARS.fd, tpm/ (the
// TPM's state), and the sockets and PID files. Tests that tamper with a node (another disk,
// another node's TPM) say so with SetNodeDisk and SetNodeTPMState while the node is stopped.
//
// It owns the cluster directory, the taps and the VM and TPM processes. It does not own the
// bridge plumbing (launch/netns), the image (build/mkimage) nor metroctl's contexts
// (metroctl/config).
package qemu
