package e2e

import (
	"testing"

	"metropolis.dev/metropolis/test/testenv"
)

// suite builds metropolis-node once for all tests, where hosted clusters can run.
var suite = &testenv.Suite{
	Name:      "e2e",
	Short:     "end-to-end tests launch clusters and take minutes",
	CheckHost: testenv.CheckHosted,
	Setup:     setup,
}

// nodeBinary is the metropolis-node program built for this run; set once, before any test runs.
var nodeBinary string

func TestMain(m *testing.M) { suite.Main(m) }

func setup(s *testenv.Suite) (err error) {
	nodeBinary, err = s.GoBuild("metropolis.dev/metropolis/cmd/metropolis-node")
	return err
}
