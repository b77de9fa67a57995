package mkimage

import (
	"context"
	"debug/pe"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"metropolis.dev/metropolis/node/platform/image/layout"
)

// osRelease is the unified kernel image's .osrel section: how boot menus name it.
const osRelease = `NAME="Metropolis"
ID=metropolis
PRETTY_NAME="Metropolis"
`

// ukiSection is a PE section added to systemd's EFI stub, at the address the stub expects
// it (systemd 252 has no ukify; these are the addresses its documentation uses).
type ukiSection struct {
	Name string
	VMA  uint64
	File string
}

// buildUKI writes a unified kernel image to out: systemd-boot's EFI stub with the kernel,
// initramfs and command line as sections. Firmware measures the whole file, so the command
// line (and the verity root hash in it) is as trusted as the kernel.
func buildUKI(ctx context.Context, workDir, stub, vmlinuz, initramfs, cmdline, out string) error {
	osrel := filepath.Join(workDir, "os-release")
	cmdlineFile := filepath.Join(workDir, "cmdline")
	if err := os.WriteFile(osrel, []byte(osRelease), 0o644); err != nil {
		return err
	}
	// No trailing newline: the stub hands the section to the kernel as it is.
	if err := os.WriteFile(cmdlineFile, []byte(cmdline), 0o644); err != nil {
		return err
	}
	sections := []ukiSection{
		{".osrel", 0x20000, osrel},
		{".cmdline", 0x30000, cmdlineFile},
		{".linux", 0x2000000, vmlinuz},
		{".initrd", 0x3000000, initramfs},
	}
	var args []string
	for _, s := range sections {
		args = append(args, "--add-section", s.Name+"="+s.File,
			"--change-section-vma", fmt.Sprintf("%s=%#x", s.Name, s.VMA))
	}
	args = append(args, stub, out)
	if _, err := run(ctx, "", nil, "objcopy", args...); err != nil {
		return fmt.Errorf("building the unified kernel image: %w", err)
	}
	// objcopy (binutils 2.40) stamps the PE header with the current time, whatever
	// SOURCE_DATE_EPOCH says; fix the stamp so the image is reproducible.
	return setPETimestamp(out, sourceDateEpoch)
}

// BuildUKI writes a unified kernel image of kernel and initramfs with cmdline to out, as an
// image build does (tests use it to make a UKI outside any release, which must not unlock a
// node's data).
func BuildUKI(ctx context.Context, kernel, initramfs, cmdline, out string) error {
	if err := checkTools([]tool{toolObjcopy}, efiStubPath); err != nil {
		return err
	}
	work, err := os.MkdirTemp(filepath.Dir(out), ".uki-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	return buildUKI(ctx, work, efiStubPath, kernel, initramfs, cmdline, out)
}

// kernelCmdline is the command line baked into the unified kernel image: the serial console
// (kernel messages stay visible, a tampered system partition shows there), the system
// partition's verity parameters, and an immediate reboot on panic instead of a hang.
func kernelCmdline(v string, extra []string) string {
	parts := append([]string{"console=ttyS0", layout.VerityCmdlineKey + "=" + v, "panic=-1"}, extra...)
	return strings.Join(parts, " ")
}

// ReadUKICmdline returns the kernel command line in a unified kernel image's .cmdline section.
func ReadUKICmdline(path string) (string, error) {
	f, err := pe.Open(path)
	if err != nil {
		return "", fmt.Errorf("unified kernel image %s: %w", path, err)
	}
	defer f.Close()
	s := f.Section(".cmdline")
	if s == nil {
		return "", fmt.Errorf("unified kernel image %s has no .cmdline section", path)
	}
	data, err := s.Data()
	if err != nil {
		return "", fmt.Errorf("unified kernel image %s: %w", path, err)
	}
	// The section is padded to the file alignment with zeros.
	return strings.TrimRight(string(data), "\x00"), nil
}
