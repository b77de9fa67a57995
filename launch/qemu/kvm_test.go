package qemu

import (
	"bufio"
	"strings"
	"testing"
)

// TestJudgeKVMProbe: the verdict from what a probe VM printed.
func TestJudgeKVMProbe(t *testing.T) {
	for _, tc := range []struct {
		name, output string
		kvm          bool
		reason       string
	}{
		{"firmware boots", "\x1b[2J\x1b[01;01HBdsDxe: loading Boot0001 \"EFI Internal Shell\"\n", true, "KVM"},
		{"nested KVM fails in the firmware", "KVM internal error. Suberror: 1\nextra data[0]: 0x1\nemulation failure\n", false, "KVM internal error. Suberror: 1"},
		{"KVM cannot start", "qemu-system-x86_64: failed to initialize kvm: Permission denied\n", false, "failed to initialize kvm"},
		{"QEMU ends with something else", "qemu-system-x86_64: -drive: could not open disk\n", false, "could not open disk"},
		{"silence until the timeout", "", false, "no firmware output within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := judgeKVMProbe(bufio.NewReader(strings.NewReader(tc.output)))
			if got.KVM != tc.kvm || !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("judgeKVMProbe = %+v, want KVM %v and a reason saying %q", got, tc.kvm, tc.reason)
			}
		})
	}
}

// TestHostAccel runs the real probe: whatever it decides, it must decide within its timeout
// and say why.
func TestHostAccel(t *testing.T) {
	if _, err := lookTool("qemu-system-x86_64"); err != nil {
		t.Skip(err)
	}
	a := HostAccel()
	t.Logf("this host: %s", a)
	if a.Reason == "" {
		t.Error("no reason given")
	}
}
