// Package update installs new releases of the node's software and decides, at every boot,
// what the node's two system slots hold: the A/B update mechanism of a node booted from its
// image.
//
// The model:
//
//   - The firmware's default boot path on the ESP (layout.ESPBootPath) always holds the
//     committed release's unified kernel image; each slot's own UKI also lives on the ESP
//     (layout.ESPSlotUKIPath). Stage 1 boots whichever slot holds the system the UKI names.
//   - Install (NodeManagement.UpdateNode) checks a signed bundle (node/update/bundle), writes
//     the other slot and its UKI, reads the slot back through dm-verity, reseals the node's
//     record so it opens under the running boot chain and the new one (predicted from the
//     TPM event log and the bundle's measurements), and makes a one-time boot entry for the
//     new slot the firmware's BootNext. Nothing the running system boots from changes.
//   - The next boot is the trial: firmware consumes BootNext, so any failure that resets or
//     restarts the machine (a node program that exits, a kernel or stage 1 that hangs until
//     the hardware watchdog fires, a node that does not rejoin its cluster in time and
//     reboots itself) brings back the committed release, with nobody involved.
//   - The trial commits once the node is back in its cluster: its data unlocked, its
//     heartbeats answered, and for a consensus member its etcd member voting and serving
//     reads. Committing copies the slot's UKI to the default path, removes the trial entry
//     and reseals the record to the new boot chain alone.
//   - The slots' story (committed, staged, trial, rolled back and why, previous) is a small
//     record on the ESP (layout.ESPSlotsPath), reported to the cluster in the node's status.
//
// Decisions are pure functions over that record and what the firmware says (decide.go); the
// rest is I/O around them. The package does not run the watchdog (stage 1 arms it, PID 1
// feeds it) and does not seal (the platform's storage does, to the chains given here).
package update
