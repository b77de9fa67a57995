package workers

import (
	"testing"

	"metropolis.dev/metropolis/build/mkimage"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/node/update/bundle"
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

// built is the image the tests boot (release 1, trusting releaseKey) and kube the kube binary
// (for kubectl); set once, before any test runs. signingKey signs the release a rollout test
// moves the cluster to.
var (
	built                  *mkimage.Result
	kube, runtime          string
	signingKey, releaseKey []byte
)

// release1 is the version of the image the tests boot.
const release1 = "1.0.0-test"

func TestMain(m *testing.M) { suite.Main(m) }

func setup(s *testenv.Suite) error {
	var err error
	if kube, err = s.KubeBinary(); err != nil {
		return err
	}
	if runtime, err = s.RuntimeDir(); err != nil {
		return err
	}
	if signingKey, releaseKey, err = bundle.GenerateKey(); err != nil {
		return err
	}
	built, err = s.Image(mkimage.Options{KubeBinary: kube, RuntimeDir: runtime, Version: release1, ReleaseKeys: [][]byte{releaseKey}})
	return err
}
