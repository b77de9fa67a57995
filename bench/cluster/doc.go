// Package clusterbench measures the cluster core against the goals of its issue, on hosted
// clusters started with launch/hosted (real node processes, real etcd, real TLS), from
// outside, through the public and node-facing APIs only:
//
//   - launch: the time hosted.Launch takes for 3 nodes, which is what
//     `metroctl cluster launch --hosted --nodes 3` does until it returns (all nodes UP and
//     healthy, the three consensus members running their curators);
//   - idle: each node process's VmRSS (and CPU) from /proc after the cluster ran untouched
//     for a while (MeasureIdle);
//   - curator load: simulated nodes heartbeating against the curator leader of a 3-member
//     control plane, stepped up until the p99 round trip exceeds its goal (RunCuratorLoad);
//   - approval: for real node processes, the time from Management.ApproveNode returning
//     until Management.GetNode shows the node UP (MeasureApproval).
//
// # Simulated nodes
//
// A simulated node is everything the curator sees of a node and nothing more: a fresh ed25519
// node key, registered with the cluster's ticket over a connection with a self-signed
// certificate of that key (Curator.RegisterNode), approved by the owner
// (Management.ApproveNode), committed (Curator.CommitNode) for a real node certificate, and
// then a Heartbeat stream, one message every interval. Each simulated node authenticates as
// itself, so each has its own TLS connection to the leader: streams of different nodes
// cannot share one. That costs a file descriptor per node on both ends, which is why the
// command raises RLIMIT_NOFILE (RaiseFileLimit) before it launches the cluster, whose node
// processes inherit it. The connection goes straight to the leader's address
// (rpc.DialNode), found once with rpc.CurrentLeader: rpc.DialCurator would add a
// leader-watching connection per node, and a leader change during a run is a failure to
// report rather than to hide. Heartbeats start at a random phase within the interval, as in
// a fleet that did not boot at the same moment. A round trip is measured in the benchmark
// process from Send to the answer's Recv, so it includes the client's own scheduling on the
// same two cores.
//
// Real nodes also report their status every 30 s (an etcd write each); simulated nodes do
// not, so the load measured is the heartbeat path alone.
//
// It owns nothing of the product: it starts clusters in a directory of its own and destroys
// them when done. The command bench/cluster/cmd/clusterbench runs the scenarios and prints
// the section of docs/benchmarks.md; the package's own tests cover only its arithmetic and
// /proc parsing and run in milliseconds under `go test ./...`.
package clusterbench
