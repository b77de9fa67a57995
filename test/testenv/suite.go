package testenv

import (
	"errors"
	"flag"
	"log"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Suite is the setup one test binary shares among its tests. TestMain calls Main; every test
// that needs the machine calls Require first.
type Suite struct {
	// Name starts every line the suite logs ("e2e", "k8s").
	Name string
	// Short says why -short skips every test: what makes them long.
	Short string
	// CheckHost says why this machine cannot run the tests (nil: it can): CheckHosted or
	// qemu.CheckHost.
	CheckHost func() error
	// Setup builds what the tests share, into Dir; nil: nothing to build.
	Setup func(s *Suite) error

	// skip says why every test skips; set by Main before any test runs.
	skip string
	// dir is the binary's temporary directory, removed once the tests ran.
	dir string
}

// Main parses the flags, runs s.Setup unless the tests cannot run here, runs the tests and
// exits with their status. Setup failing fails the binary without running any test.
func (s *Suite) Main(m *testing.M) {
	flag.Parse()
	os.Exit(s.run(m))
}

func (s *Suite) run(m *testing.M) int {
	if s.skip = s.unsupportedReason(); s.skip != "" {
		s.Logf("every test skips: %s", s.skip)
		return m.Run()
	}
	var err error
	if s.dir, err = os.MkdirTemp("", "metropolis-"+s.Name+"-test-"); err != nil {
		s.Logf("%v", err)
		return 1
	}
	defer os.RemoveAll(s.dir)
	if s.Setup != nil {
		start := time.Now()
		if err := s.Setup(s); err != nil {
			s.Logf("%v", err)
			return 1
		}
		s.Logf("set up in %.0fs; running the tests", time.Since(start).Seconds())
	}
	return m.Run()
}

// unsupportedReason says why the tests cannot run here, or "" if they can.
func (s *Suite) unsupportedReason() string {
	if testing.Short() {
		return "-short: " + s.Short
	}
	if s.CheckHost != nil {
		if err := s.CheckHost(); err != nil {
			return err.Error()
		}
	}
	return ""
}

// Require skips t where the suite's tests cannot run.
func (s *Suite) Require(t testing.TB) {
	t.Helper()
	if s.skip != "" {
		t.Skip(s.skip)
	}
}

// Dir is the test binary's temporary directory (empty while the tests skip).
func (s *Suite) Dir() string { return s.dir }

// Logf logs a line of the suite's setup, outside any test.
func (s *Suite) Logf(format string, args ...any) {
	log.Printf(s.Name+": "+format, args...)
}

// CheckHosted says why hosted clusters (package launch/hosted) cannot run here, or nil.
func CheckHosted() error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root: hosted clusters need network namespaces (run `go test` as root, as CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("no `ip` command (iproute2): hosted nodes are started with `ip netns exec`")
	}
	return nil
}
