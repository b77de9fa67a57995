package qemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"metropolis.dev/metropolis/launch/netns"
	"metropolis.dev/metropolis/osbase/swtpm"
)

// Tools the launcher runs, with the Debian packages that hold them.
var tools = map[string]string{
	"qemu-system-x86_64": "qemu-system-x86",
	"qemu-img":           "qemu-utils",
	"swtpm":              "swtpm",
}

func lookTool(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found (install the Debian package %s): %w", name, tools[name], err)
	}
	return path, nil
}

// CheckHost says why this machine cannot run launched VMs (not root: the VMs' network needs a
// bridge and taps; a tool missing), or nil if it can. Tests skip with its message.
func CheckHost() error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root: the VMs' network needs a bridge and tap devices")
	}
	for _, name := range []string{"qemu-system-x86_64", "qemu-img", "swtpm"} {
		if _, err := lookTool(name); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) network() (*netns.Network, error) {
	n, err := netns.Attach(c.Network)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	return n, nil
}

func (c *Cluster) path(i int, name string) string { return filepath.Join(c.NodeDir(i), name) }

func (c *Cluster) parametersPath(i int) string { return c.path(i, "parameters.pb") }

// vmConfig is node i's VM as it starts now.
func (c *Cluster) vmConfig(i int) (vmConfig, error) {
	n, err := c.node(i)
	if err != nil {
		return vmConfig{}, err
	}
	mac, err := net.ParseMAC(n.MAC)
	if err != nil {
		return vmConfig{}, fmt.Errorf("node %d: %w", i, err)
	}
	disk, format := c.DiskPath(i), "raw"
	if strings.HasSuffix(disk, ".qcow2") {
		format = "qcow2"
	}
	vm := vmConfig{
		KVM: HostAccel().KVM, CPUs: c.Machine.CPUs, MemoryMiB: c.Machine.MemoryMiB,
		FirmwareCode: c.Machine.FirmwareCode, FirmwareVars: c.path(i, "OVMF_VARS.fd"),
		Disk: disk, DiskFormat: format, Tap: c.TapName(i), MAC: mac,
		TPMSocket: c.path(i, "swtpm.sock"), Console: c.LogPath(i), QMPSocket: c.path(i, "qmp.sock"),
	}
	for k := 2; k <= c.cards(); k++ {
		vm.MoreCards = append(vm.MoreCards, card{Tap: c.CardTapName(i, k), MAC: c.CardMAC(i, k)})
	}
	if _, err := os.Stat(c.parametersPath(i)); err == nil {
		vm.Parameters = c.parametersPath(i)
	}
	if n.ClockOffset != 0 {
		vm.RTCBase = time.Now().Add(n.ClockOffset)
	}
	return vm, vm.validate()
}

// prepareNode makes what node i's VM needs before its first start: its directory, its UEFI
// variable store, its disk overlay and its tap. What exists already is kept: a node that
// starts again keeps its disk, variables and TPM.
func (c *Cluster) prepareNode(i int) error {
	if err := os.MkdirAll(c.NodeDir(i), 0o700); err != nil {
		return fmt.Errorf("node %d: %w", i, err)
	}
	vars := c.path(i, "OVMF_VARS.fd")
	if _, err := os.Stat(vars); errors.Is(err, os.ErrNotExist) {
		if err := copyFile(c.Machine.FirmwareVars, vars); err != nil {
			return fmt.Errorf("node %d: UEFI variables: %w", i, err)
		}
	}
	if n, _ := c.node(i); n.Disk == "" {
		if _, err := os.Stat(c.DiskPath(i)); errors.Is(err, os.ErrNotExist) {
			if err := c.createOverlay(i); err != nil {
				return err
			}
		}
	}
	return c.ensureTap(i)
}

func (c *Cluster) createOverlay(i int) error {
	qemuImg, err := lookTool("qemu-img")
	if err != nil {
		return err
	}
	out, err := exec.Command(qemuImg, overlayArgs(c.Image, c.DiskPath(i), c.Machine.DiskSize)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("node %d: create disk overlay of %s: %w: %s", i, c.Image, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// StartNode starts node i: its TPM, then its VM, both detached from the launcher (a session of
// their own), with the serial console appended to LogPath(i). It returns once QEMU runs; the
// guest boots afterwards. A node whose VM runs already is left alone.
func (c *Cluster) StartNode(i int) error {
	if c.NodeRunning(i) {
		return nil
	}
	qemu, err := lookTool("qemu-system-x86_64")
	if err != nil {
		return err
	}
	if err := c.prepareNode(i); err != nil {
		return err
	}
	vm, err := c.vmConfig(i)
	if err != nil {
		return fmt.Errorf("node %d: %w", i, err)
	}
	if err := c.startTPM(i); err != nil {
		return err
	}
	os.Remove(vm.QMPSocket) // left by a VM that was killed
	pid, err := startDetached(qemu, qemuArgs(vm), c.path(i, "qemu.log"))
	if err != nil {
		return fmt.Errorf("node %d: start QEMU: %w", i, err)
	}
	if err := writePID(c.path(i, "qemu.pid"), pid); err != nil {
		return err
	}
	// QEMU checks its devices before it opens the QMP socket; a VM it refuses (a busy tap, a
	// missing file) ends within this time.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !processAlive(pid) {
			return fmt.Errorf("node %d: QEMU exited at once: %s", i, tail(c.path(i, "qemu.log"), 5))
		}
		if _, err := os.Stat(vm.QMPSocket); err == nil {
			return nil
		}
	}
	return fmt.Errorf("node %d: QEMU opened no QMP socket within 10s: %s", i, tail(c.path(i, "qemu.log"), 5))
}

// startTPM starts node i's swtpm, replacing one left over, and waits for its socket.
func (c *Cluster) startTPM(i int) error {
	swtpmBin, err := lookTool("swtpm")
	if err != nil {
		return err
	}
	if err := c.stopProcess(i, "swtpm.pid", syscall.SIGTERM); err != nil {
		return err
	}
	state, socket := c.TPMStateDir(i), c.path(i, "swtpm.sock")
	if strings.Contains(state, ",") || strings.Contains(socket, ",") {
		return fmt.Errorf("node %d: swtpm cannot take paths with commas (%s, %s)", i, state, socket)
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return fmt.Errorf("node %d: TPM state: %w", i, err)
	}
	// A new TPM is manufactured as a vendor would, with an EK certificate from the cluster's
	// own vendor CA, so that attestation checks the certificate path as on real hardware.
	if made, err := swtpm.Manufactured(state); err != nil {
		return fmt.Errorf("node %d: TPM state: %w", i, err)
	} else if !made {
		if err := c.VendorCA().Manufacture(state); err != nil {
			return fmt.Errorf("node %d: manufacture its TPM: %w", i, err)
		}
	}
	os.Remove(socket)
	logPath := c.path(i, "swtpm.log")
	pid, err := startDetached(swtpmBin, swtpmArgs(state, socket, logPath), logPath)
	if err != nil {
		return fmt.Errorf("node %d: start swtpm: %w", i, err)
	}
	if err := writePID(c.path(i, "swtpm.pid"), pid); err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !processAlive(pid) {
			return fmt.Errorf("node %d: swtpm exited at once: %s", i, tail(logPath, 5))
		}
		if _, err := os.Stat(socket); err == nil {
			return nil
		}
	}
	return fmt.Errorf("node %d: swtpm opened no socket within 5s: %s", i, tail(logPath, 5))
}

// NodeRunning says whether node i's VM is running.
func (c *Cluster) NodeRunning(i int) bool {
	pid, err := readPID(c.path(i, "qemu.pid"))
	return err == nil && processAlive(pid)
}

// ShutdownNode asks node i's guest to power off (an ACPI power button press) and waits until
// its VM has ended or ctx is done, then stops what is left like KillNode(i, false).
func (c *Cluster) ShutdownNode(ctx context.Context, i int) error {
	if c.NodeRunning(i) {
		if err := qmpExecute(ctx, c.path(i, "qmp.sock"), "system_powerdown"); err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
		for c.NodeRunning(i) && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c.KillNode(i, false)
}

// KillNode ends node i's VM and TPM and waits until both are gone. hard pulls the plug
// (SIGKILL); otherwise QEMU is told to quit, which stops the guest just as abruptly but
// leaves the disk image consistent. A node that is not running is no error.
func (c *Cluster) KillNode(i int, hard bool) error {
	var errs []error
	if hard {
		errs = append(errs, c.stopProcess(i, "qemu.pid", syscall.SIGKILL))
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if c.NodeRunning(i) {
			// If QMP fails, stopProcess falls back to signals.
			_ = qmpExecute(ctx, c.path(i, "qmp.sock"), "quit")
		}
		cancel()
		errs = append(errs, c.stopProcess(i, "qemu.pid", syscall.SIGTERM))
	}
	// swtpm ends by itself once QEMU is gone; this catches one that did not.
	errs = append(errs, c.stopProcess(i, "swtpm.pid", syscall.SIGTERM))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("node %d: %w", i, err)
	}
	return nil
}

// stopProcess ends the process whose PID is in node i's pidFile, if it runs: it sends sig,
// then SIGKILL if the process is still there after 10 s, and removes the file.
func (c *Cluster) stopProcess(i int, pidFile string, sig syscall.Signal) error {
	path := c.path(i, pidFile)
	pid, err := readPID(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	if processAlive(pid) {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("signal process %d (%s): %w", pid, pidFile, err)
		}
	}
	for processAlive(pid) {
		if time.Now().After(deadline) {
			if sig == syscall.SIGKILL {
				return fmt.Errorf("process %d (%s) still alive 10s after SIGKILL", pid, pidFile)
			}
			sig = syscall.SIGKILL
			_ = syscall.Kill(pid, sig) // the loop checks whether it is gone
			deadline = time.Now().Add(10 * time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return os.Remove(path)
}
