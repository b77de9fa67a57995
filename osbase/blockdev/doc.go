// Package blockdev finds a node's partitions and changes its partition table: it reads GUID
// partition tables (GPT) from disks, finds a partition by type GUID and name (waiting for the
// disk to appear after its driver loads), maps it to its device node, and appends a partition in
// the free space at the end of a disk, telling the kernel about it without a reboot.
//
// Used by the stage-1 init (cmd/metropolis-init) to find the system partition and by PID 1 to
// find the ESP and to create the data partition on the first boot. The GPT code is our own
// (a few hundred lines) rather than a general disk library, so the initramfs stays small and
// the writes are exactly the few this package needs: the partition entry, both headers with
// the backup moved to the end of a disk that is larger than the image written to it, and the
// protective MBR's size. It does not own what the partitions are (node/platform/image/layout) or
// what is on them.
package blockdev
