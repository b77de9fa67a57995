package main

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// kmsg is /dev/kmsg once open. Messages go there too, so the node's log (which reads the
// kernel log) keeps what happened before it started.
var kmsg *os.File

// openConsole makes /dev/console this process's standard input, output and error (the node
// program inherits them): the kernel opens it for init only if the initramfs has a /dev/console
// node, and ours has no /dev until devtmpfs is mounted.
func openConsole() {
	if fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY, 0); err == nil {
		for target := 0; target <= 2; target++ {
			if fd != target {
				_ = unix.Dup3(fd, target, 0)
			}
		}
		if fd > 2 {
			unix.Close(fd)
		}
	}
	if f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0); err == nil {
		kmsg = f
	}
}

// logf prints one line on the console and into the kernel log.
func logf(format string, args ...any) {
	msg := "metropolis-init: " + strings.TrimSpace(fmt.Sprintf(format, args...))
	fmt.Fprintln(os.Stderr, msg)
	if kmsg != nil {
		// Level 7 (debug): kept in the kernel log, but below the default console level, so the
		// console does not show each line twice.
		fmt.Fprintf(kmsg, "<7>%s\n", msg)
	}
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
