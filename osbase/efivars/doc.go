// Package efivars reads and writes UEFI variables through efivarfs, and encodes the load options
// (Boot####) and device paths the firmware boots from.
//
// The node uses it to create one boot entry for each of its two system slots (A/B updates), to
// set BootNext for a one-time trial boot of a freshly written slot, and to set BootOrder once an
// update is committed.
//
// It owns the efivarfs file format (four bytes of attributes, then the data), the quirks of
// writing there (one write() call, the immutable inode flag), and the binary encoding of
// EFI_LOAD_OPTION and of the device path nodes the node needs (hard drive and file path).
// Any other device path node is kept as raw bytes, so entries written by the firmware or another
// operating system parse and re-encode unchanged.
//
// It does not own the boot policy: which slot is tried, when BootOrder changes and which entry
// numbers the node uses belong to the node's update code. It does not mount efivarfs, and it
// knows nothing about the disk layout beyond the partition numbers, LBAs and GUIDs it is given.
package efivars
