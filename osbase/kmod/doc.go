// Package kmod loads Linux kernel modules by name, as modprobe would, for the two programs that
// run before anything else on a node: the stage-1 init in the initramfs (cmd/metropolis-init)
// and PID 1 on the system partition.
//
// A module directory is laid out as depmod leaves it: /lib/modules/$(uname -r) holds
// modules.dep (every module's file and the files of everything it needs) and the module files
// at the paths modules.dep names. modules.softdep, if present, adds modules to load first when
// they can be (pre: soft dependencies, by module name); modules.builtin, if present, lists
// modules compiled into the kernel, which count as loaded. Module files must be uncompressed
// (.ko). Aliases are not resolved: callers name modules.
//
// It owns resolving names to files and a load order with dependencies first, and the
// finit_module(2) calls. It does not own choosing which modules a node needs (that is
// node/platform/image/layout) nor putting module files on disk (the image builder).
package kmod
