package k8s

import (
	"testing"

	"metropolis.dev/metropolis/test/testenv"
)

// suite builds the programs the tests run, once, where hosted clusters can run.
var suite = &testenv.Suite{
	Name:      "k8s",
	Short:     "these tests launch clusters running Kubernetes and take minutes",
	CheckHost: testenv.CheckHosted,
	Setup:     setup,
}

// The programs the tests run as the user would; set once, before any test runs.
var nodeBinary, metroctlBinary, kubeBinary string

func TestMain(m *testing.M) { suite.Main(m) }

func setup(s *testenv.Suite) (err error) {
	if nodeBinary, err = s.GoBuild("metropolis.dev/metropolis/cmd/metropolis-node"); err != nil {
		return err
	}
	if metroctlBinary, err = s.GoBuild("metropolis.dev/metropolis/cmd/metroctl"); err != nil {
		return err
	}
	kubeBinary, err = s.KubeBinary()
	return err
}
