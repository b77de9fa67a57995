package e2e

import (
	"flag"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// environment is what TestMain prepared for the tests. It is set once, before any test runs,
// and only read afterwards.
type environment struct {
	// nodeBinary is the metropolis-node program built for this run.
	nodeBinary string
	// skip says why hosted clusters cannot run here; empty if they can.
	skip string
}

var env environment

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if env.skip = unsupportedReason(); env.skip != "" {
		log.Printf("e2e: every test skips: %s", env.skip)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "metropolis-e2e-")
	if err != nil {
		log.Printf("e2e: %v", err)
		return 1
	}
	defer os.RemoveAll(dir)
	env.nodeBinary = filepath.Join(dir, "metropolis-node")
	log.Printf("e2e: building metropolis-node into %s", dir)
	start := time.Now()
	build := exec.Command("go", "build", "-o", env.nodeBinary, "metropolis.dev/metropolis/cmd/metropolis-node")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		log.Printf("e2e: build metropolis-node: %v", err)
		return 1
	}
	log.Printf("e2e: built metropolis-node in %.1fs; running the tests", time.Since(start).Seconds())
	return m.Run()
}

// unsupportedReason says why hosted clusters cannot run on this machine, or "" if they can.
func unsupportedReason() string {
	if testing.Short() {
		return "-short: end-to-end tests launch clusters and take minutes"
	}
	if os.Geteuid() != 0 {
		return "not running as root: hosted clusters need network namespaces (run `go test` as root, as CI does)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "no `ip` command (iproute2): hosted nodes are started with `ip netns exec`"
	}
	return ""
}

// requireHosted skips t where hosted clusters cannot run.
func requireHosted(t *testing.T) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
}
