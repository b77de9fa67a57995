package workers

import (
	"context"
	"flag"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"metropolis.dev/metropolis/build/mkimage"
	"metropolis.dev/metropolis/launch/qemu"
)

var (
	// built is the image with Kubernetes and the worker runtime; kube is the kube binary (for
	// kubectl). Set by TestMain unless skip says why the tests cannot run.
	built *mkimage.Result
	kube  string
	skip  string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if skip = unsupportedReason(); skip != "" {
		log.Printf("workers: every test skips: %s", skip)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "metropolis-workers-test-")
	if err != nil {
		log.Print(err)
		return 1
	}
	defer os.RemoveAll(dir)
	kube = os.Getenv("METROPOLIS_KUBE_BINARY")
	if kube == "" {
		kube = filepath.Join(dir, "kube")
		log.Printf("workers: METROPOLIS_KUBE_BINARY is not set: building the kube binary (about 12 minutes on a cold cache)")
		if err := runScript("../../scripts/build-kube", kube); err != nil {
			return 1
		}
	}
	runtime := os.Getenv("METROPOLIS_RUNTIME_DIR")
	if runtime == "" {
		runtime = filepath.Join(dir, "runtime")
		log.Printf("workers: METROPOLIS_RUNTIME_DIR is not set: building the worker runtime (a few minutes on a cold cache)")
		if err := runScript("../../scripts/build-runtime", runtime); err != nil {
			return 1
		}
	}
	start := time.Now()
	log.Printf("workers: building the node image with Kubernetes and the worker runtime into %s", dir)
	built, err = mkimage.Build(context.Background(), mkimage.Options{
		OutDir: filepath.Join(dir, "image"), KubeBinary: kube, RuntimeDir: runtime,
	})
	if err != nil {
		log.Printf("workers: build: %v", err)
		return 1
	}
	log.Printf("workers: image built in %.0fs; booting it", time.Since(start).Seconds())
	return m.Run()
}

func runScript(script, out string) error {
	cmd := exec.Command(script, out)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Printf("workers: %s: %v", script, err)
		return err
	}
	return nil
}

func unsupportedReason() string {
	if testing.Short() {
		return "-short: these tests boot a cluster of VMs running Kubernetes and take many minutes"
	}
	if err := qemu.CheckHost(); err != nil {
		return err.Error()
	}
	return ""
}

func requireCluster(t *testing.T) {
	t.Helper()
	if skip != "" {
		t.Skip(skip)
	}
}
