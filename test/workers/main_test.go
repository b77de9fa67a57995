package workers

import (
	"testing"

	"metropolis.dev/metropolis/build/mkimage"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/test/testenv"
)

// suite builds the node image with Kubernetes and the worker runtime once for all tests, where
// QEMU VMs can run.
var suite = &testenv.Suite{
	Name:      "workers",
	Short:     "these tests boot a cluster of VMs running Kubernetes and take many minutes",
	CheckHost: qemu.CheckHost,
	Setup:     setup,
}

// built is the image the tests boot and kube the kube binary (for kubectl); set once, before
// any test runs.
var (
	built *mkimage.Result
	kube  string
)

func TestMain(m *testing.M) { suite.Main(m) }

func setup(s *testenv.Suite) error {
	var err error
	if kube, err = s.KubeBinary(); err != nil {
		return err
	}
	runtime, err := s.RuntimeDir()
	if err != nil {
		return err
	}
	built, err = s.Image(mkimage.Options{KubeBinary: kube, RuntimeDir: runtime})
	return err
}
