package image

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/osbase/pageout"
)

// Exit codes of the node program that the init process acts on. Any other exit is a crash:
// the init process reboots the machine after a pause, so a node never sits broken.
const (
	ExitPowerOff = 10
	ExitReboot   = 11
	// ExitFailed: the node program could not start (its platform failed). Like a power off,
	// unless this is a trial boot: then a reboot, back to the committed release.
	ExitFailed = 12
)

// NodeProgramEnv marks the node program started by the init process (same binary).
const NodeProgramEnv = "METROPOLIS_NODE_PROGRAM"

// crashPause is how long the init process waits before rebooting after the node program
// crashed: long enough to read the console, short enough that the node comes back.
const crashPause = 10 * time.Second

// RunInit is PID 1. It never returns: it ends by powering off or rebooting the machine.
func RunInit() {
	say("metropolis-node: PID 1 starting")
	feedWatchdog()
	if err := prepareMachine(); err != nil {
		fail(fmt.Errorf("preparing the machine: %w", err))
	}
	for {
		code, err := runNodeProgram()
		switch {
		case err != nil:
			say(fmt.Sprintf("metropolis-node: cannot run the node program: %v", err))
			powerOff(failureAction())
		case code == ExitFailed:
			say("metropolis-node: the node program could not start")
			powerOff(failureAction())
		case code == ExitPowerOff:
			say("metropolis-node: powering off")
			powerOff(unix.LINUX_REBOOT_CMD_POWER_OFF)
		case code == ExitReboot:
			say("metropolis-node: rebooting")
			powerOff(unix.LINUX_REBOOT_CMD_RESTART)
		default:
			say(fmt.Sprintf("metropolis-node: the node program ended (%s); rebooting in %s", exitDescription(code), crashPause))
			time.Sleep(crashPause)
			powerOff(unix.LINUX_REBOOT_CMD_RESTART)
		}
	}
}

// runNodeProgram starts the node program and reaps every child until it ends, returning its
// exit code (-1 with a signal).
func runNodeProgram() (int, error) {
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), NodeProgramEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	node := cmd.Process.Pid
	go forgetExecutable()
	for {
		var status unix.WaitStatus
		pid, err := unix.Wait4(-1, &status, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait: %w", err)
		}
		if pid == node {
			if status.Exited() {
				return status.ExitStatus(), nil
			}
			return -1, nil
		}
	}
}

// forgetInterval is how often the init process drops its page-table entries for the binary.
const forgetInterval = 5 * time.Minute

// forgetExecutable keeps the init process from pinning the pages of the binary it shares with
// the node program: every forgetInterval it drops its own mappings of them (osbase/pageout),
// so that when the Kubernetes worker pages out the node program's executable, the pages only
// the node program still uses are all that stays resident. The init process itself, waiting
// for children, touches little of it again.
func forgetExecutable() {
	for {
		time.Sleep(forgetInterval)
		if _, err := pageout.Forget(); err != nil {
			say(fmt.Sprintf("metropolis-node: %v", err))
			return
		}
	}
}

func exitDescription(code int) string {
	if code < 0 {
		return "killed by a signal"
	}
	return fmt.Sprintf("exit code %d", code)
}

// powerOff stops every remaining process, unmounts the data and ESP, and powers off or
// reboots. It does not return.
func powerOff(how int) {
	_ = unix.Kill(-1, syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := unix.Wait4(-1, nil, unix.WNOHANG, nil); errors.Is(err, unix.ECHILD) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = unix.Kill(-1, syscall.SIGKILL)
	unmountForPowerOff()
	unix.Sync()
	for {
		if err := unix.Reboot(how); err != nil {
			say(fmt.Sprintf("metropolis-node: reboot(%#x): %v", how, err))
		}
		time.Sleep(time.Second)
	}
}

// fail reports an error the machine cannot start with and powers off.
func fail(err error) {
	say(fmt.Sprintf("metropolis-node: %v", err))
	time.Sleep(2 * time.Second)
	powerOff(failureAction())
}

// failureAction is what PID 1 does when the node cannot run: power off, except on a trial
// boot, which reboots so the firmware starts the committed release again.
func failureAction() int {
	if inTrial() {
		say("metropolis-node: this is the trial boot of a new release; rebooting into the committed release")
		return unix.LINUX_REBOOT_CMD_RESTART
	}
	say("metropolis-node: powering off")
	return unix.LINUX_REBOOT_CMD_POWER_OFF
}

// say writes a line to the console (the init process has no log tree: it runs nothing else).
func say(line string) { fmt.Fprintln(os.Stderr, line) }
