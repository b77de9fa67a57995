// Package localvolume_bench measures what a local persistent volume costs
// (node/kubernetes/localvolume): making one (allocate, format, rename), and sequential writes
// into one (ext4 on a loop device over a file) against the same writes straight onto the
// partition that holds it. It holds benchmarks only; run them as root on a quiet machine with
// `go test -run x -bench . ./bench/localvolume/`.
package localvolume_bench
