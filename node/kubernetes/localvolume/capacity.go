package localvolume

// The node keeps part of its data partition for itself (etcd, logs, container images); volumes
// can never take it. A fifth of the partition, at least 1 GiB and at most 64 GiB: small test
// disks keep room to run, large disks do not idle terabytes.
const (
	minReserve = 1 << 30
	maxReserve = 64 << 30
)

// Reserve is how many bytes of a data partition of total bytes stay the node's.
func Reserve(total int64) int64 {
	return min(max(total/5, minReserve), maxReserve)
}
