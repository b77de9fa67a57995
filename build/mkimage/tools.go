package mkimage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// tool is a host program the build runs, and the Debian package that has it.
type tool struct {
	Program string
	Package string
}

var (
	toolAptGet      = tool{"apt-get", "apt"}
	toolDpkg        = tool{"dpkg", "dpkg"}
	toolMkfsErofs   = tool{"mkfs.erofs", "erofs-utils"}
	toolVeritysetup = tool{"veritysetup", "cryptsetup-bin"}
	toolObjcopy     = tool{"objcopy", "binutils"}
	toolGo          = tool{"go", "golang (or Go from go.dev in PATH)"}
)

// efiStubPath is systemd-boot's UEFI stub, the front of the unified kernel image.
const efiStubPath = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

// checkTools fails naming every missing tool and the package to install, so one run tells a
// person everything to fix.
func checkTools(tools []tool, stub string) error {
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t.Program); err != nil {
			missing = append(missing, fmt.Sprintf("%s (install %s)", t.Program, t.Package))
		}
	}
	if stub != "" {
		if _, err := os.Stat(stub); err != nil {
			missing = append(missing, fmt.Sprintf("%s (install systemd-boot-efi)", stub))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing tools: %s; scripts/deps installs them all", strings.Join(missing, ", "))
	}
	return nil
}

// run runs a program and returns its standard output; on failure the error carries the
// command and the end of its output, which usually says what went wrong.
func run(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		out := strings.TrimSpace(stderr.String() + "\n" + stdout.String())
		if len(out) > 2000 {
			out = "..." + out[len(out)-2000:]
		}
		return nil, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return stdout.Bytes(), nil
}
