package main

import (
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/platform/image/slots"
	"metropolis.dev/metropolis/osbase/efivars"
	"metropolis.dev/metropolis/osbase/watchdog"
)

// watchdogTimeout is how long the machine may go without anyone feeding its watchdog before
// it resets: stage 1 feeds it while it verifies the system, PID 1 from its first moment on.
// Generous, since a node under emulation on a busy host can stall for a while.
const watchdogTimeout = 120 * time.Second

const efivarsDir = "/sys/firmware/efi/efivars"

// armWatchdog starts the hardware watchdog, so a boot that hangs from here on (stage 1, the
// kernel, PID 1) resets the machine; on a trial boot the firmware then starts the committed
// release. It returns nil, saying so, where the machine has no watchdog.
func armWatchdog() *watchdog.Watchdog {
	w, err := watchdog.Open("")
	if err != nil {
		logf("no hardware watchdog (%v): a hang will not reset this machine", err)
		return nil
	}
	got, err := w.SetTimeout(watchdogTimeout)
	if err != nil {
		logf("watchdog: %v; keeping the driver's timeout", err)
	} else {
		logf("hardware watchdog armed: reset after %s without being fed", got)
	}
	if err := w.Ping(); err != nil {
		logf("watchdog: %v", err)
	}
	return w
}

// handOver keeps the watchdog's descriptor open across exec and tells PID 1 its number.
func handOver(w *watchdog.Watchdog, env []string) []string {
	if w == nil {
		return env
	}
	fd := int(w.File().Fd())
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
		logf("watchdog: cannot hand it over (%v); it stays armed and resets the machine unless PID 1 opens it", err)
		return env
	}
	return append(env, layout.WatchdogFDEnv+"="+strconv.Itoa(fd))
}

// trialBoot reports whether the firmware started this boot as the trial of a new release.
func trialBoot() bool {
	if _, err := os.Stat("/sys/firmware/efi"); err != nil {
		return false
	}
	if err := os.MkdirAll(efivarsDir, 0o755); err == nil {
		// Mounted already if an earlier call got here; EBUSY then.
		_ = unix.Mount("efivarfs", efivarsDir, "efivarfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	}
	trial, err := slots.BootedTrial(&efivars.FS{Dir: efivarsDir})
	if err != nil {
		logf("cannot tell whether this is a trial boot: %v", err)
	}
	return trial
}
