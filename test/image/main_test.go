package image

import (
	"testing"

	"metropolis.dev/metropolis/build/mkimage"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/test/testenv"
)

// suite builds the node image once for all tests, where QEMU VMs can run.
var suite = &testenv.Suite{
	Name:      "image",
	Short:     "image tests boot VMs and take minutes",
	CheckHost: qemu.CheckHost,
	Setup:     setup,
}

// built is the image the tests boot; set once, before any test runs.
var built *mkimage.Result

func TestMain(m *testing.M) { suite.Main(m) }

func setup(s *testenv.Suite) (err error) {
	built, err = s.Image(mkimage.Options{})
	return err
}
