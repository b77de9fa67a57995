package qemu

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// kvmProbeTimeout bounds the KVM probe: firmware under working KVM prints within a second or two.
const kvmProbeTimeout = 20 * time.Second

// Accel is how this host runs VMs: with KVM, or emulated (TCG), and why.
type Accel struct {
	KVM bool
	// Reason says why, for the launcher's progress ("KVM", "no /dev/kvm", "/dev/kvm fails to
	// run the firmware: KVM internal error ...").
	Reason string
}

func (a Accel) String() string {
	if a.KVM {
		return "KVM, a boot takes seconds"
	}
	return "emulated CPU (TCG: " + a.Reason + "), a minute or more per boot"
}

var (
	accelOnce sync.Once
	accel     Accel
)

// HostAccel probes once per process whether QEMU can use KVM here. /dev/kvm opening is not
// enough: nested or sandboxed hosts offer a /dev/kvm whose guests die with "KVM internal
// error" in the firmware. So the probe boots the UEFI firmware under KVM and requires its
// first console output; anything else falls back to emulation, slower but working.
func HostAccel() Accel {
	accelOnce.Do(func() { accel = probeKVM(DefaultFirmwareCode, DefaultFirmwareVars) })
	return accel
}

func probeKVM(firmwareCode, firmwareVars string) Accel {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return Accel{Reason: "no usable /dev/kvm"}
	}
	f.Close()
	qemu, err := lookTool("qemu-system-x86_64")
	if err != nil {
		return Accel{Reason: err.Error()}
	}
	dir, err := os.MkdirTemp("", "metropolis-kvm-probe-")
	if err != nil {
		return Accel{Reason: fmt.Sprintf("KVM probe: %v", err)}
	}
	defer os.RemoveAll(dir)
	vars := filepath.Join(dir, "vars.fd")
	data, err := os.ReadFile(firmwareVars)
	if err == nil {
		err = os.WriteFile(vars, data, 0o600)
	}
	if err != nil {
		return Accel{Reason: fmt.Sprintf("KVM probe: firmware variables: %v", err)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), kvmProbeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-machine", "q35", "-accel", "kvm", "-cpu", "host", "-m", "128",
		"-nodefaults", "-display", "none", "-no-reboot",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+optEscape(firmwareCode),
		"-drive", "if=pflash,format=raw,unit=1,file="+optEscape(vars),
		"-serial", "stdio")
	// Console and QEMU's own errors in one stream: a failing KVM guest is paused, not ended,
	// and only QEMU's error says so.
	r, w, err := os.Pipe()
	if err != nil {
		return Accel{Reason: fmt.Sprintf("KVM probe: %v", err)}
	}
	defer r.Close()
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		return Accel{Reason: fmt.Sprintf("KVM probe: %v", err)}
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	return judgeKVMProbe(bufio.NewReader(r))
}

// judgeKVMProbe reads the probe VM's console and QEMU's messages until the firmware's boot
// manager speaks (KVM works), QEMU reports a KVM error, or the output ends (QEMU stopped or
// the probe timed out).
func judgeKVMProbe(out *bufio.Reader) Accel {
	var last string
	for {
		line, err := out.ReadString('\n')
		switch {
		case strings.Contains(line, "BdsDxe"):
			return Accel{KVM: true, Reason: "KVM"}
		case strings.Contains(line, "KVM internal error"), strings.Contains(line, "failed to initialize kvm"):
			return Accel{Reason: "/dev/kvm fails to run the firmware: " + bounded(strings.TrimSpace(line))}
		}
		if s := strings.TrimSpace(line); s != "" {
			last = s
		}
		if err != nil {
			if last == "" {
				last = "no firmware output within " + kvmProbeTimeout.String()
			}
			return Accel{Reason: "/dev/kvm fails to run the firmware: " + bounded(last)}
		}
	}
}

// bounded cuts s to a length fit for one progress line.
func bounded(s string) string {
	if len(s) > 160 {
		return s[:160] + "..."
	}
	return s
}
