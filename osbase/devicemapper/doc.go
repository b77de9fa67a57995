// Package devicemapper creates and removes Linux device-mapper devices through the ioctls on
// /dev/mapper/control, and builds the two kinds of tables a node uses: dm-verity over the
// system partition (read-only, every block checked against a hash tree whose root hash the
// measured kernel command line carries) and dm-crypt over the data partition.
//
// It talks to the kernel directly (struct dm_ioctl from linux/dm-ioctl.h, encoded by hand)
// instead of linking libdevmapper or running dmsetup, since the stage-1 init is a static Go
// program with nothing else in its initramfs. It does not own which devices exist (the init and
// node/platform/image decide) nor udev-style naming: a device is used through its kernel node
// /dev/dm-N, which devtmpfs creates.
package devicemapper
