// Package rollout decides the steps of a rolling cluster update: in which order the nodes
// move to a release, when the next one may start, when one has finished or failed, and what
// each node in the middle of its update needs done to it (cordon and drain, the release to
// install, uncordon).
//
// It owns the rules and nothing else. The plan (metropolis.api.v1.Rollout) lives in etcd;
// the curator leader reads it with a View of the cluster, calls Step, stores the result with a
// compare-and-set, and carries out Want for each node. Everything here is a pure function of
// the plan, the view and the time in the view, so the rules are table-tested without a
// cluster, and a new leader that takes over halfway reaches the same decisions as the old one.
//
// The rules, in short (docs/rollout.md has the reasons):
//   - consensus members first, one at a time, each only while every other member is healthy;
//   - then Kubernetes controllers, one at a time (the version skew policy: control plane
//     before kubelets);
//   - then the rest, RolloutOptions.max_unavailable at a time;
//   - a node that rolls back or is not back in time halts the rollout; nodes not yet started
//     stay on their release.
package rollout
