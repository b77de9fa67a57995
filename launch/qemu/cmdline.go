package qemu

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"metropolis.dev/metropolis/node/platform/image/layout"
)

// vmConfig is everything one VM's QEMU command line depends on. Paths are absolute: QEMU and
// swtpm run with another working directory than the launcher's caller.
type vmConfig struct {
	// KVM selects hardware virtualization; without it QEMU emulates the CPU (TCG).
	KVM       bool
	CPUs      int
	MemoryMiB int
	// FirmwareCode is OVMF's code, mapped read-only; FirmwareVars this VM's own copy of the
	// UEFI variable store, which OVMF writes to.
	FirmwareCode string
	FirmwareVars string
	// Disk is the VM's disk; DiskFormat says how QEMU reads it ("qcow2" or "raw").
	Disk       string
	DiskFormat string
	// Tap is the host's tap device the network card is wired to; MAC the card's address.
	Tap string
	MAC net.HardwareAddr
	// MoreCards are further network cards, QEMU's net1, net2, ...
	MoreCards []card
	// TPMSocket is swtpm's control socket.
	TPMSocket string
	// Parameters is the node parameters file handed to the guest by fw_cfg; empty for none.
	Parameters string
	// Console receives the serial console, appended to across boots.
	Console string
	// QMPSocket is where QEMU listens for QMP, the machine protocol used to stop it.
	QMPSocket string
	// RTCBase, if not zero, is the time the VM's hardware clock starts at (and runs on from);
	// zero: the host's time.
	RTCBase time.Time
}

// card is a network card of a VM: the host's tap it is wired to, and its address.
type card struct {
	Tap string
	MAC net.HardwareAddr
}

// unixPathMax is the longest path a Unix socket may have (sun_path, with its NUL).
const unixPathMax = 107

func (c vmConfig) validate() error {
	for _, p := range []struct{ name, path string }{
		{"firmware code", c.FirmwareCode}, {"firmware variables", c.FirmwareVars}, {"disk", c.Disk},
		{"TPM socket", c.TPMSocket}, {"console log", c.Console}, {"QMP socket", c.QMPSocket},
	} {
		if !filepath.IsAbs(p.path) {
			return fmt.Errorf("%s path %q is not absolute", p.name, p.path)
		}
	}
	if c.Parameters != "" && !filepath.IsAbs(c.Parameters) {
		return fmt.Errorf("parameters path %q is not absolute", c.Parameters)
	}
	for _, s := range []string{c.TPMSocket, c.QMPSocket} {
		if len(s) > unixPathMax {
			return fmt.Errorf("socket path %s is %d bytes, longer than Unix sockets allow (%d); use a shorter cluster directory", s, len(s), unixPathMax)
		}
	}
	if c.DiskFormat != "qcow2" && c.DiskFormat != "raw" {
		return fmt.Errorf("disk format %q: want qcow2 or raw", c.DiskFormat)
	}
	if c.Tap == "" || len(c.MAC) != 6 {
		return fmt.Errorf("network: tap %q, MAC %q: want both", c.Tap, c.MAC)
	}
	for k, card := range c.MoreCards {
		if card.Tap == "" || len(card.MAC) != 6 {
			return fmt.Errorf("network card %d: tap %q, MAC %q: want both", k+2, card.Tap, card.MAC)
		}
	}
	if c.CPUs < 1 || c.MemoryMiB < 128 {
		return fmt.Errorf("%d CPUs, %d MiB: want at least 1 CPU and 128 MiB", c.CPUs, c.MemoryMiB)
	}
	return nil
}

// qemuArgs is the command line (without the program) of the VM c describes. Without
// -no-reboot, a reboot of the guest restarts the VM in the same QEMU process, with the same
// TPM and parameters; a guest power-off ends QEMU.
func qemuArgs(c vmConfig) []string {
	accel := []string{"-accel", "tcg,thread=multi"}
	if c.KVM {
		accel = []string{"-accel", "kvm", "-cpu", "host"}
	}
	args := []string{"-machine", "q35", "-nodefaults", "-display", "none"}
	args = append(args, accel...)
	args = append(args,
		"-smp", strconv.Itoa(c.CPUs),
		"-m", strconv.Itoa(c.MemoryMiB)+"M",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+optEscape(c.FirmwareCode),
		"-drive", "if=pflash,format=raw,unit=1,file="+optEscape(c.FirmwareVars),
		// cache=unsafe: the guest's flushes (etcd's fdatasync on every write) reach QEMU's own
		// caches and the host's page cache but are not synced to the host's disk. These disks
		// are throwaway overlays of a local cluster: a host crash loses them, nothing else
		// does, and a busy host no longer stalls etcd for seconds per sync (elections).
		"-drive", "if=none,id=disk0,format="+c.DiskFormat+",cache=unsafe,file="+optEscape(c.Disk),
		"-device", "virtio-blk-pci,drive=disk0,bootindex=0",
		"-netdev", "tap,id=net0,ifname="+c.Tap+",script=no,downscript=no",
		// No option ROM: the node never boots from the network, and iPXE's attempts would only
		// clutter the console and slow down a failing boot.
		"-device", "virtio-net-pci,netdev=net0,mac="+c.MAC.String()+",romfile=",
	)
	for k, card := range c.MoreCards {
		id := "net" + strconv.Itoa(k+1)
		args = append(args,
			"-netdev", "tap,id="+id+",ifname="+card.Tap+",script=no,downscript=no",
			"-device", "virtio-net-pci,netdev="+id+",mac="+card.MAC.String()+",romfile=",
		)
	}
	args = append(args,
		"-chardev", "socket,id=chrtpm,path="+optEscape(c.TPMSocket),
		"-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
		"-device", "tpm-tis,tpmdev=tpm0",
		// The hardware watchdog stage 1 arms: a boot that hangs resets the VM, and a trial
		// boot of a new release then goes back to the committed one.
		"-device", "i6300esb",
		"-action", "watchdog=reset",
		"-chardev", "file,id=console,append=on,path="+optEscape(c.Console),
		"-serial", "chardev:console",
		"-qmp", "unix:"+optEscape(c.QMPSocket)+",server=on,wait=off",
	)
	if c.Parameters != "" {
		args = append(args, "-fw_cfg", "name="+layout.FwCfgParametersName+",file="+optEscape(c.Parameters))
	}
	if !c.RTCBase.IsZero() {
		args = append(args, "-rtc", "base="+c.RTCBase.UTC().Format("2006-01-02T15:04:05"))
	}
	return args
}

// swtpmArgs is the command line of a node's TPM: a TPM 2.0 keeping its state in stateDir,
// serving QEMU on socket. It runs in the foreground, so that the launcher knows its process,
// and ends by itself when QEMU, its only client, goes away (--terminate). swtpm has no escape
// for commas in its options: startTPM refuses paths holding one.
func swtpmArgs(stateDir, socket, logFile string) []string {
	return []string{
		"socket", "--tpm2",
		"--tpmstate", "dir=" + stateDir,
		"--ctrl", "type=unixio,path=" + socket,
		"--log", "file=" + logFile,
		"--terminate",
	}
}

// overlayArgs is the qemu-img command line that makes overlay a copy-on-write qcow2 disk of
// size bytes backed by the raw image: the node writes only to the overlay, the image stays as
// built. A size beyond the image's gives the node free space to create its data partition in.
func overlayArgs(image, overlay string, size int64) []string {
	return []string{"create", "-q", "-f", "qcow2", "-b", image, "-F", "raw", overlay, strconv.FormatInt(size, 10)}
}

// optEscape escapes a value for QEMU's comma-separated options, where a comma is written twice.
func optEscape(s string) string { return strings.ReplaceAll(s, ",", ",,") }
