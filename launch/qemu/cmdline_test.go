package qemu

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func testVM() vmConfig {
	return vmConfig{
		CPUs: 2, MemoryMiB: 2048,
		FirmwareCode: "/usr/share/OVMF/OVMF_CODE_4M.fd", FirmwareVars: "/c/node1/OVMF_VARS.fd",
		Disk: "/c/node1/disk.qcow2", DiskFormat: "qcow2",
		Tap: "mp-test-1", MAC: net.HardwareAddr{0x52, 0x54, 0, 1, 2, 3},
		TPMSocket: "/c/node1/swtpm.sock", Console: "/c/node1/console.log", QMPSocket: "/c/node1/qmp.sock",
		Parameters: "/c/node1/parameters.pb",
	}
}

// option returns the value following flag whose value starts with prefix, or "".
func option(args []string, flag, prefix string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag && strings.HasPrefix(args[i+1], prefix) {
			return args[i+1]
		}
	}
	return ""
}

func TestQEMUArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*vmConfig)
		// want maps a flag and the start of its value to the whole value expected.
		want    [][3]string
		without []string
	}{
		{"TCG without KVM", func(*vmConfig) {}, [][3]string{
			{"-accel", "tcg", "tcg,thread=multi"},
			{"-machine", "", "q35"},
			{"-smp", "", "2"},
			{"-m", "", "2048M"},
			{"-drive", "if=pflash,format=raw,unit=0", "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"},
			{"-drive", "if=pflash,format=raw,unit=1", "if=pflash,format=raw,unit=1,file=/c/node1/OVMF_VARS.fd"},
			{"-drive", "if=none", "if=none,id=disk0,format=qcow2,cache=unsafe,file=/c/node1/disk.qcow2"},
			{"-device", "virtio-blk-pci", "virtio-blk-pci,drive=disk0,bootindex=0"},
			{"-netdev", "tap", "tap,id=net0,ifname=mp-test-1,script=no,downscript=no"},
			{"-device", "virtio-net-pci", "virtio-net-pci,netdev=net0,mac=52:54:00:01:02:03,romfile="},
			{"-chardev", "socket", "socket,id=chrtpm,path=/c/node1/swtpm.sock"},
			{"-tpmdev", "", "emulator,id=tpm0,chardev=chrtpm"},
			{"-device", "tpm-tis", "tpm-tis,tpmdev=tpm0"},
			{"-chardev", "file", "file,id=console,append=on,path=/c/node1/console.log"},
			{"-serial", "", "chardev:console"},
			{"-qmp", "", "unix:/c/node1/qmp.sock,server=on,wait=off"},
			{"-fw_cfg", "", "name=opt/metropolis/parameters.pb,file=/c/node1/parameters.pb"},
		}, []string{"-no-reboot", "-cpu", "-rtc"}},
		{"a second network card", func(c *vmConfig) {
			c.MoreCards = []card{{Tap: "mp-test-1b", MAC: net.HardwareAddr{0x52, 0x54, 0, 1, 6, 3}}}
		}, [][3]string{
			{"-netdev", "tap,id=net0", "tap,id=net0,ifname=mp-test-1,script=no,downscript=no"},
			{"-netdev", "tap,id=net1", "tap,id=net1,ifname=mp-test-1b,script=no,downscript=no"},
			{"-device", "virtio-net-pci,netdev=net1", "virtio-net-pci,netdev=net1,mac=52:54:00:01:06:03,romfile="},
		}, nil},
		{"KVM", func(c *vmConfig) { c.KVM = true }, [][3]string{
			{"-accel", "", "kvm"},
			{"-cpu", "", "host"},
		}, []string{"-no-reboot"}},
		{"raw disk, no parameters", func(c *vmConfig) { c.DiskFormat, c.Disk, c.Parameters = "raw", "/t/other.img", "" }, [][3]string{
			{"-drive", "if=none", "if=none,id=disk0,format=raw,cache=unsafe,file=/t/other.img"},
		}, []string{"-fw_cfg"}},
		{"comma in a path is doubled", func(c *vmConfig) { c.Console = "/a,b/console.log" }, [][3]string{
			{"-chardev", "file", "file,id=console,append=on,path=/a,,b/console.log"},
		}, nil},
		{"a clock 5 minutes behind", func(c *vmConfig) { c.RTCBase = time.Date(2026, 12, 6, 23, 55, 0, 0, time.FixedZone("CET", 3600)) }, [][3]string{
			{"-rtc", "", "base=2026-12-06T22:55:00"},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vm := testVM()
			tc.edit(&vm)
			if err := vm.validate(); err != nil {
				t.Fatalf("validate: %v", err)
			}
			args := qemuArgs(vm)
			for _, w := range tc.want {
				if got := option(args, w[0], w[1]); got != w[2] {
					t.Errorf("%s %s...: got %q, want %q\nargs: %q", w[0], w[1], got, w[2], args)
				}
			}
			for _, flag := range tc.without {
				if slices.Contains(args, flag) {
					t.Errorf("args hold %s: %q", flag, args)
				}
			}
		})
	}
}

func TestVMConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*vmConfig)
		want string
	}{
		{"relative disk", func(c *vmConfig) { c.Disk = "disk.qcow2" }, `disk path "disk.qcow2" is not absolute`},
		{"relative parameters", func(c *vmConfig) { c.Parameters = "p.pb" }, `parameters path "p.pb" is not absolute`},
		{"socket path too long", func(c *vmConfig) { c.QMPSocket = "/" + strings.Repeat("x", 110) }, "longer than Unix sockets allow"},
		{"unknown disk format", func(c *vmConfig) { c.DiskFormat = "vmdk" }, `disk format "vmdk"`},
		{"no MAC", func(c *vmConfig) { c.MAC = nil }, "want both"},
		{"too little memory", func(c *vmConfig) { c.MemoryMiB = 64 }, "at least 1 CPU and 128 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vm := testVM()
			tc.edit(&vm)
			err := vm.validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestSwtpmArgs(t *testing.T) {
	got := strings.Join(swtpmArgs("/c/node1/tpm", "/c/node1/swtpm.sock", "/c/node1/swtpm.log"), " ")
	want := "socket --tpm2 --tpmstate dir=/c/node1/tpm --ctrl type=unixio,path=/c/node1/swtpm.sock --log file=/c/node1/swtpm.log --terminate"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestOverlayArgs(t *testing.T) {
	got := strings.Join(overlayArgs("/img/node.img", "/c/node1/disk.qcow2", 4<<30), " ")
	want := "create -q -f qcow2 -b /img/node.img -F raw /c/node1/disk.qcow2 4294967296"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
