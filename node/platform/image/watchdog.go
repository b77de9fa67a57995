package image

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/platform/image/slots"
	"metropolis.dev/metropolis/osbase/efivars"
	"metropolis.dev/metropolis/osbase/watchdog"
)

// mountEFIVars mounts the firmware's variables, which the update mechanism and the trial
// check below read. A machine without UEFI variables runs, but cannot update.
func mountEFIVars() {
	if _, err := os.Stat("/sys/firmware/efi"); err != nil {
		say("metropolis-node: not booted by UEFI: no EFI variables, so no updates")
		return
	}
	if err := unix.Mount("efivarfs", efivarsDir, "efivarfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		say(fmt.Sprintf("metropolis-node: mount efivarfs: %v (no updates)", err))
	}
}

// inTrial reports whether this boot is the trial of a new release that has not committed:
// a failure must then reboot (the firmware goes back to the committed release), never power
// off (which would wait for a person).
func inTrial() bool {
	trial, err := slots.BootedTrial(&efivars.FS{Dir: efivarsDir})
	return err == nil && trial
}

// feedWatchdog keeps the hardware watchdog stage 1 armed (its descriptor inherited across
// exec, named by layout.WatchdogFDEnv) from resetting the machine while PID 1 runs. If PID 1
// or the kernel hangs, the feeding stops and the machine resets.
func feedWatchdog() {
	fdText := os.Getenv(layout.WatchdogFDEnv)
	if fdText == "" {
		say("metropolis-node: no hardware watchdog was armed by stage 1")
		return
	}
	_ = os.Unsetenv(layout.WatchdogFDEnv) // only fails for an invalid name
	fd, err := strconv.Atoi(fdText)
	if err != nil || fd < 3 {
		say(fmt.Sprintf("metropolis-node: %s=%.10q is not a descriptor", layout.WatchdogFDEnv, fdText))
		return
	}
	// Not inherited by the node program: it is PID 1's alone.
	unix.CloseOnExec(fd)
	w := watchdog.FromFile(os.NewFile(uintptr(fd), "watchdog"))
	timeout, err := w.Timeout()
	if err != nil {
		say(fmt.Sprintf("metropolis-node: watchdog: %v; feeding it every 10s", err))
		timeout = 40 * time.Second
	}
	interval := watchdog.PingInterval(timeout)
	say(fmt.Sprintf("metropolis-node: feeding the hardware watchdog (timeout %s) every %s", timeout, interval))
	go func() {
		err := watchdog.Feed(context.Background(), w, interval, time.After)
		say(fmt.Sprintf("metropolis-node: feeding the watchdog stopped: %v", err))
	}()
}
