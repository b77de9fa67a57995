// Package watchdog drives the machine's hardware watchdog through the Linux watchdog device
// (/dev/watchdog0): arming it with a timeout, feeding it, and closing it with or without the
// magic character that stops it.
//
// The node's stage-1 init arms the watchdog (on QEMU, the i6300esb) before it starts a trial
// boot of a freshly updated slot, so that a system that hangs is reset and the firmware falls
// back to the old slot. It hands the open device to PID 1 across exec, and PID 1 keeps it fed
// (Feed) while the system runs.
//
// It owns the device's ioctls and write protocol and the feeding loop. It does not own the
// policy: which timeout to use, when a trial boot counts as good, or what happens after a
// reset belong to the node. It does not load watchdog drivers.
package watchdog
