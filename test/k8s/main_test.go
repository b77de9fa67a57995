package k8s

import (
	"flag"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// environment is what TestMain prepared; set once before the tests run.
type environment struct {
	nodeBinary, metroctl, kube string
	// skip says why the tests cannot run here; empty if they can.
	skip string
}

var env environment

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(setup(m))
}

func setup(m *testing.M) int {
	if env.skip = unsupportedReason(); env.skip != "" {
		log.Printf("k8s: every test skips: %s", env.skip)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "metropolis-k8s-")
	if err != nil {
		log.Printf("k8s: %v", err)
		return 1
	}
	defer os.RemoveAll(dir)
	env.nodeBinary = filepath.Join(dir, "metropolis-node")
	env.metroctl = filepath.Join(dir, "metroctl")
	builds := [][]string{
		{"go", "build", "-o", env.nodeBinary, "metropolis.dev/metropolis/cmd/metropolis-node"},
		{"go", "build", "-o", env.metroctl, "metropolis.dev/metropolis/cmd/metroctl"},
	}
	env.kube = os.Getenv("METROPOLIS_KUBE_BINARY")
	if env.kube == "" {
		env.kube = filepath.Join(dir, "kube")
		log.Printf("k8s: METROPOLIS_KUBE_BINARY is not set: building the kube binary here (about 12 minutes on a cold cache; scripts/test builds out/bin/kube once instead)")
		// scripts/build-kube holds the flags (version stamp, static build); the test runs in
		// test/k8s.
		builds = append(builds, []string{"../../scripts/build-kube", env.kube})
	} else if env.kube, err = filepath.Abs(env.kube); err != nil {
		log.Printf("k8s: %v", err)
		return 1
	}
	for _, args := range builds {
		target := args[len(args)-1]
		log.Printf("k8s: building %s", target)
		start := time.Now()
		build := exec.Command(args[0], args[1:]...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			log.Printf("k8s: build %s: %v", target, err)
			return 1
		}
		log.Printf("k8s: built %s in %.1fs", target, time.Since(start).Seconds())
	}
	if _, err := os.Stat(env.kube); err != nil {
		log.Printf("k8s: kube binary: %v", err)
		return 1
	}
	return m.Run()
}

// unsupportedReason says why hosted clusters cannot run here, or "".
func unsupportedReason() string {
	if testing.Short() {
		return "-short: these tests launch clusters running Kubernetes and take minutes"
	}
	if os.Geteuid() != 0 {
		return "not running as root: hosted clusters need network namespaces (run `go test` as root, as CI does)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "no `ip` command (iproute2): hosted nodes are started with `ip netns exec`"
	}
	return ""
}
