// Package workers holds the end-to-end tests of Kubernetes workers: it builds the node image
// with Kubernetes and the worker runtime (containerd, runc, CNI plugins, the shipped pause and
// testhttp images), boots a cluster of QEMU VMs from it (one controller+worker, one worker)
// and runs pods on it with the upstream kubectl. Under TCG this takes several minutes.
//
// It needs root, QEMU and swtpm (scripts/deps), the kube binary (METROPOLIS_KUBE_BINARY, else
// built here) and the runtime (METROPOLIS_RUNTIME_DIR, else built here with
// scripts/build-runtime). scripts/test provides both.
package workers
