// Command hangnode stands in for a release that hangs before the node program starts: run as
// PID 1 by stage 1, it never feeds the hardware watchdog stage 1 armed, and never returns.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	fmt.Fprintln(os.Stderr, "hangnode: a broken release hanging before the node program starts")
	for {
		// Sleeping, not blocking forever: the Go runtime would call a program with nothing
		// left to run deadlocked and exit.
		time.Sleep(time.Hour)
	}
}
