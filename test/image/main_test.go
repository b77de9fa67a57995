package image

import (
	"testing"

	"metropolis.dev/metropolis/build/mkimage"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/node/update/bundle"
	"metropolis.dev/metropolis/test/testenv"
)

// suite builds the node image once for all tests, where QEMU VMs can run.
var suite = &testenv.Suite{
	Name:      "image",
	Short:     "image tests boot VMs and take minutes",
	CheckHost: qemu.CheckHost,
	Setup:     setup,
}

// built is the image the tests boot, release 1; set once, before any test runs. It trusts
// releaseKey, whose private half signingKey signs the releases TestUpdate installs.
var (
	built                  *mkimage.Result
	signingKey, releaseKey []byte
)

// release1 is the version of the image the tests boot.
const release1 = "1.0.0-test"

func TestMain(m *testing.M) { suite.Main(m) }

func setup(s *testenv.Suite) (err error) {
	if signingKey, releaseKey, err = bundle.GenerateKey(); err != nil {
		return err
	}
	built, err = s.Image(mkimage.Options{Version: release1, ReleaseKeys: [][]byte{releaseKey}})
	return err
}
