// Package localvolume is the CSI driver of a Kubernetes worker's local persistent volumes.
//
// Each volume is a file of its own on the worker's data partition (so it is encrypted at rest
// by the partition's dm-crypt), fully allocated when created: a filesystem volume holds an
// ext4 file system that the node mounts through a loop device, a block volume is handed to the
// pod as that loop device. A file of fixed size enforces the claim's size (a pod writing past
// it gets ENOSPC, never the node's disk), which ext4 project quotas would only do on a data
// partition formatted with quota support: go-diskfs, which formats it, writes no quota files.
//
// The package owns the volumes' files, the rules a request must follow (validate.go), the
// space the node keeps for itself (capacity.go), and the three CSI gRPC services (identity,
// controller, node) on one Unix socket, plus the kubelet's plugin registration socket. Every
// worker runs the whole driver for its own volumes: the controller service answers only for
// this node (topology key TopologyKey), and the provisioning, capacity and resizing loops that
// call it run on the same node (node/kubernetes/worker).
package localvolume

// DriverName is the CSI driver's name, the provisioner of StorageClass "local".
const DriverName = "local.metropolis.dev"

// TopologyKey is the topology segment naming the node that holds a volume.
const TopologyKey = DriverName + "/node"
