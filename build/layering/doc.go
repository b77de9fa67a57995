// Package layering states the order of the repository's layers and checks every import
// against it. The order, bottom up:
//
//	osbase                     operating-system building blocks; knows nothing of Metropolis
//	api                        the public and node-facing protocols (protos, authorization, validation)
//	node                       the node program and its parts
//	metroctl, launch, build    tools around nodes: the operator's CLI, local clusters, the image builder
//	cmd, test, bench           programs, end-to-end tests, benchmarks
//
// A package may import packages of its own directory and of lower layers only. Between the
// tools one import is allowed sideways: launch uses metroctl's contexts and command tree, never
// the other way, so that metroctl builds for an operator's macOS or Windows laptop. Test files
// count as their package's imports. Upstream Kubernetes (k8s.io/kubernetes) is linked only
// into cmd/kube, the multicall binary scripts/build-kube builds; everything else talks to
// Kubernetes through client-go or as a child process.
//
// Check is the decision, a pure function of the package list; its test runs `go list` over
// the module and fails on any edge against the order, naming the file's package and the
// import. ARCHITECTURE.md describes the same order.
package layering
