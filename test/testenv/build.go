package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"time"

	"metropolis.dev/metropolis/build/mkimage"
)

// The variables through which a caller (scripts/test, CI) hands in what takes minutes to
// build, so that several test binaries build it once.
const (
	// KubeBinaryEnv names the kube multicall binary (scripts/build-kube's output).
	KubeBinaryEnv = "METROPOLIS_KUBE_BINARY"
	// RuntimeDirEnv names the worker runtime (scripts/build-runtime's output).
	RuntimeDirEnv = "METROPOLIS_RUNTIME_DIR"
)

// GoBuild builds the Go package pkg into the suite's directory and returns the program's path.
func (s *Suite) GoBuild(pkg string) (string, error) {
	out := filepath.Join(s.dir, path.Base(pkg))
	return out, s.build(out, func() error {
		return runLogged("go", "build", "-o", out, pkg)
	})
}

// KubeBinary returns the absolute path of the kube binary: $METROPOLIS_KUBE_BINARY if set,
// else built here with scripts/build-kube (which holds the flags: version stamp, static build).
func (s *Suite) KubeBinary() (string, error) {
	kube, err := s.prebuiltOrScript(KubeBinaryEnv, "build-kube", "kube",
		"the kube binary, about 12 minutes on a cold cache")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(kube); err != nil {
		return "", fmt.Errorf("kube binary: %w", err)
	}
	return kube, nil
}

// RuntimeDir returns the absolute path of the worker runtime (containerd, runc, CNI plugins):
// $METROPOLIS_RUNTIME_DIR if set, else built here with scripts/build-runtime.
func (s *Suite) RuntimeDir() (string, error) {
	return s.prebuiltOrScript(RuntimeDirEnv, "build-runtime", "runtime",
		"the worker runtime, a few minutes on a cold cache")
}

// prebuiltOrScript returns $env made absolute if set, else runs the repository's
// scripts/script with one argument, an output path named out in the suite's directory.
func (s *Suite) prebuiltOrScript(env, script, out, what string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return filepath.Abs(p)
	}
	root, err := mkimage.FindSourceDir(".")
	if err != nil {
		return "", err
	}
	out = filepath.Join(s.dir, out)
	s.Logf("%s is not set: building %s (scripts/test builds it once and sets %s)", env, what, env)
	return out, s.build(out, func() error {
		return runLogged(filepath.Join(root, "scripts", script), out)
	})
}

// Image builds a node image into the suite's directory (o.OutDir, if empty) and returns it.
func (s *Suite) Image(o mkimage.Options) (*mkimage.Result, error) {
	if o.OutDir == "" {
		o.OutDir = filepath.Join(s.dir, "image")
	}
	var built *mkimage.Result
	err := s.build("the node image into "+o.OutDir, func() (err error) {
		built, err = mkimage.Build(context.Background(), o)
		return err
	})
	return built, err
}

// build runs f, logging what it builds and how long that took.
func (s *Suite) build(what string, f func() error) error {
	s.Logf("building %s", what)
	start := time.Now()
	if err := f(); err != nil {
		return fmt.Errorf("build %s: %w", what, err)
	}
	s.Logf("built %s in %.1fs", what, time.Since(start).Seconds())
	return nil
}

// runLogged runs a command with its output on the test binary's stderr, where a long build
// shows its progress.
func runLogged(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}
