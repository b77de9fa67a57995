// Package testenv prepares what the end-to-end test packages (test/e2e, test/k8s, test/image,
// test/workers) share, so that each of them says only what is its own: why a machine cannot
// run them (-short, not root, no `ip`, no QEMU), one temporary directory per test binary that
// TestMain removes after the tests, the programs and node images they build once for all their
// tests (with the time each build took, and the environment variable that lets a caller such
// as scripts/test hand in a prebuilt one), and a QEMU cluster launched for one test and
// destroyed when that test ends.
//
// It is a normal package rather than a _test file because Go test packages cannot import one
// another; only tests import it.
package testenv
