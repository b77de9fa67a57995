// Command exitnode stands in for the node program of a broken release: run as PID 1 by
// stage 1, it exits at once, which panics the kernel ("Attempted to kill init"); the image's
// panic=-1 reboots the machine.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "exitnode: a broken release's node program, exiting at once")
	os.Exit(3)
}
