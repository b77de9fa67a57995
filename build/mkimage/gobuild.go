package mkimage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// modulePath is the Go module whose commands go into the image.
const modulePath = "metropolis.dev/metropolis"

// goBuild builds pkg (a ./cmd/... path in srcDir) into a static, reproducible binary: no cgo,
// no file system paths, no VCS stamp, no build ID, no symbols.
func goBuild(ctx context.Context, srcDir, pkg, out string) error {
	if _, err := os.Stat(filepath.Join(srcDir, pkg)); err != nil {
		return fmt.Errorf("cannot build %s: %w (pass a prebuilt binary instead)", pkg, err)
	}
	_, err := run(ctx, srcDir, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"},
		"go", "build", "-o", out, "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", pkg)
	if err != nil {
		return fmt.Errorf("building %s: %w", pkg, err)
	}
	return nil
}

// FindSourceDir returns the root of the metropolis.dev/metropolis module at or above dir.
func FindSourceDir(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(data), "module "+modulePath+"\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod of " + modulePath + " at or above " + dir + ": run from the repository or set the source directory")
		}
	}
}
