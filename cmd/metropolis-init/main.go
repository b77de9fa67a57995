// Command metropolis-init is the stage-1 init: /init in the node's initramfs, PID 1 until it
// hands PID 1 over to the node program on the verified system partition.
//
// It mounts /dev, /proc and /sys; loads the kernel modules needed to reach the disk
// (layout.InitramfsModules); finds the system slot (A or B) whose hash tree has the root hash
// on the kernel command line (so a release boots from whichever slot it was installed to); sets up
// dm-verity over it with the parameters on the kernel command line (layout.VerityCmdlineKey;
// the command line is part of the measured unified kernel image, so the root hash is as
// trusted as the kernel); reads the whole verified device once, so a damaged or tampered
// partition is refused now, with a clear message, instead of failing some read later; mounts
// it (erofs, read-only) and switches root to it; and executes layout.SystemNodeBinary as PID 1.
//
// It arms the hardware watchdog (if the machine has one) before it does anything that could
// hang, feeds it while it verifies, and hands it to PID 1 across exec.
//
// On any failure it says what failed on the console, prefixed "metropolis-init:", waits for the
// console to drain and powers the machine off: a node never runs unverified code. On the trial
// boot of a new release it reboots instead, and the firmware starts the committed release. It is a
// small static program (CGO_ENABLED=0) with nothing else in the initramfs but modules.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/platform/image/slots"
	"metropolis.dev/metropolis/osbase/kmod"
)

const (
	// diskTimeout bounds the wait for the system disk once its driver is loaded.
	diskTimeout = 30 * time.Second
	// verityName is the device-mapper name of the verified system partition.
	verityName = "system"
	newRoot    = "/newroot"
)

func main() {
	start := time.Now()
	if os.Getpid() != 1 {
		// Outside the initramfs this program would take over (and clean out) the root
		// filesystem; refuse before touching anything.
		fmt.Fprintln(os.Stderr, "metropolis-init: not PID 1; this is the initramfs init and only runs there")
		os.Exit(1)
	}
	if err := mountEarly(); err != nil {
		fail(err)
	}
	openConsole()
	logf("starting on Linux %s", kernelRelease())
	if err := run(start); err != nil {
		fail(err)
	}
}

func run(start time.Time) error {
	t := time.Now()
	loaded, err := (&kmod.Loader{Dir: layout.ModulesDir + "/" + kernelRelease()}).Load(layout.InitramfsModules...)
	if err != nil {
		return fmt.Errorf("loading kernel modules: %w", err)
	}
	logf("loaded modules %v in %v", loaded, since(t))
	wd := armWatchdog()
	ping := func() {
		if wd != nil {
			_ = wd.Ping()
		}
	}

	v, err := verityParameters()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), diskTimeout)
	defer cancel()
	t = time.Now()
	parts, err := slots.Find(ctx)
	if err != nil {
		return err
	}
	slot, err := slots.Running(parts, v)
	if err != nil {
		return err
	}
	part := parts[slot]
	logf("system slot %s is %s (%d MiB) after %v", slot, part.Path, part.Bytes()>>20, since(t))
	dev, err := setupVerity(ctx, part, v, ping)
	if err != nil {
		return err
	}
	if err := mountSystem(dev); err != nil {
		return err
	}
	logf("switching to the system partition after %v", since(start))
	if err := switchRoot(); err != nil {
		return err
	}
	ping()
	err = unix.Exec(layout.SystemNodeBinary, []string{layout.SystemNodeBinary}, handOver(wd, os.Environ()))
	return fmt.Errorf("executing %s: %w", layout.SystemNodeBinary, err)
}

// verityParameters reads the system partition's verity parameters from the kernel command
// line.
func verityParameters() (layout.Verity, error) {
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return layout.Verity{}, fmt.Errorf("reading the kernel command line: %w", err)
	}
	val, ok := layout.CmdlineValue(string(cmdline), layout.VerityCmdlineKey)
	if !ok {
		return layout.Verity{}, fmt.Errorf("the kernel command line has no %s= (the system partition's verity parameters); it is: %q", layout.VerityCmdlineKey, cmdline)
	}
	v, err := layout.ParseVerity(val)
	if err != nil {
		return layout.Verity{}, fmt.Errorf("the kernel command line's verity parameters: %w", err)
	}
	return v, nil
}

// fail reports why the node will not boot and powers off, or on a trial boot of a new
// release reboots, so the firmware starts the committed release again. PID 1 must never exit
// (the kernel would panic, hiding the message), so this does not return.
func fail(err error) {
	how, what := unix.LINUX_REBOOT_CMD_POWER_OFF, "powering off"
	if trialBoot() {
		how, what = unix.LINUX_REBOOT_CMD_RESTART, "this is the trial boot of a new release: rebooting into the committed release"
	}
	logf("%v; refusing to boot, %s", err, what)
	// Give the serial console time to drain before the machine goes away.
	time.Sleep(2 * time.Second)
	unix.Sync()
	if err := unix.Reboot(how); err != nil {
		logf("power off failed: %v; halting here", err)
	}
	for {
		time.Sleep(time.Hour)
	}
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
