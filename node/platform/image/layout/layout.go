// Package layout is the contract between the image builder (build/mkimage), which writes a
// Metropolis disk image, and the node's first two stages on the machine (cmd/metropolis-init in
// the initramfs, node/platform/image in PID 1), which find and trust what it wrote. Everything
// both sides must agree on lives here, so a change to the disk layout is one change.
//
// The disk is GPT:
//
//	ESP       FAT32, the unified kernel image (kernel, initramfs, command line with the
//	          system partition's verity parameters), node parameters, the sealed node record
//	system A  erofs followed by its dm-verity hash tree; the running system
//	system B  same size, reserved for updates
//	data      created on the first boot in the free space behind system B; dm-crypt, ext4
package layout

import (
	"github.com/google/uuid"
)

// Partition type GUIDs. The ESP's is the UEFI one; the others are Metropolis' own, so a node
// never mistakes another operating system's partition for one of its own.
var (
	TypeESP    = uuid.MustParse("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
	TypeSystem = uuid.MustParse("6f3a1c2e-4b0d-4e55-9a3e-5d1f8c2b7a01")
	TypeData   = uuid.MustParse("6f3a1c2e-4b0d-4e55-9a3e-5d1f8c2b7a02")
)

// Partition names (GPT labels).
const (
	NameESP     = "ESP"
	NameSystemA = "METROPOLIS-SYSTEM-A"
	NameSystemB = "METROPOLIS-SYSTEM-B"
	NameData    = "METROPOLIS-DATA"
)

// Sizes, in bytes. The system partitions leave room for the Kubernetes binaries.
const (
	SectorSize      = 512
	ESPSize         = 128 << 20
	SystemSize      = 768 << 20
	MinimumDataSize = 1 << 30
	// FirstPartitionOffset aligns the first partition to 1 MiB, as partitioning tools do.
	FirstPartitionOffset = 1 << 20
)

// Paths on the ESP (FAT is case-insensitive; these are written as shown).
const (
	ESPBootPath = "/EFI/BOOT/BOOTX64.EFI"
	// ESPParametersPath holds node parameters (binary metropolis.api.v1.NodeParameters) for a
	// node's first boot; QEMU's fw_cfg (FwCfgParametersName) is the other source.
	ESPParametersPath = "/metropolis/parameters.pb"
	// ESPSealedPath holds the node's sealed record: what it needs before its data partition is
	// unlocked, encrypted to the TPM under a PCR policy.
	ESPSealedPath = "/metropolis/sealed.pb"
	// ESPNetworkPath holds the network of the node's stored configuration (JSON, written by
	// osbase/netconfig), which a booting node takes over its parameters' network: it is
	// needed before the node can reach its cluster, where the configuration is kept.
	ESPNetworkPath = "/metropolis/network.json"
)

// FwCfgParametersName is the QEMU fw_cfg entry carrying node parameters; the guest sees it at
// /sys/firmware/qemu_fw_cfg/by_name/<name>/raw once the qemu_fw_cfg module is loaded.
const FwCfgParametersName = "opt/metropolis/parameters.pb"

// Paths in the running system (the erofs root).
const (
	SystemNodeBinary = "/bin/metropolis-node"
	// SystemKubeBinary is the Kubernetes multicall binary (cmd/kube), next to the node program
	// where node/kubernetes looks for it; absent from images built without Kubernetes.
	SystemKubeBinary = "/bin/kube"
	// SystemBinDir holds the node program, kube and the Kubernetes worker's runtime
	// (containerd, containerd-shim-runc-v2, runc, mount, umount; CNI plugins in cni/), where
	// node/kubernetes/worker looks for them: next to the node program.
	SystemBinDir = "/bin"
	// SystemImagesDir holds the container images (OCI archives) every worker imports at start.
	SystemImagesDir = "/images"
	ModulesDir      = "/lib/modules"
	// SystemVersionPath holds the release's version (text, one line), as the image builder
	// was told it.
	SystemVersionPath = "/release/version"
	// SystemReleaseKeysDir holds the release public keys (PEM, one per file) whose bundles
	// this release installs as updates (node/update/bundle).
	SystemReleaseKeysDir = "/release/keys"
	DataMount            = "/data"
	ESPMount             = "/esp"
)

// InitramfsModules are the kernel modules the initramfs carries and loads, with their
// dependencies: enough to find the disk and mount the verified system partition. Modules the
// kernel asks for by itself (request_module, e.g. a crypto algorithm) are listed explicitly,
// before the modules needing them: there is no modprobe for the kernel to run. erofs needs
// libcrc32c, which needs a crc32c implementation (only a soft dependency in modules.dep).
// i6300esb is QEMU's watchdog, armed by stage 1; efivarfs lets stage 1 tell a trial boot.
var InitramfsModules = []string{"virtio_pci", "virtio_blk", "dm_verity", "crc32c_generic", "erofs", "i6300esb", "efivarfs"}

// WatchdogFDEnv names the environment variable through which stage 1 hands the armed
// watchdog's file descriptor to PID 1 across exec.
const WatchdogFDEnv = "METROPOLIS_WATCHDOG_FD"

// SystemModules are the modules the system partition carries and PID 1 loads (with their
// dependencies) for everything after that: network, storage encryption, ESP, parameters, and
// the Kubernetes worker (overlayfs for containers, veth for pods, dummy for the cluster DNS
// address, nftables expressions of the service proxy, pod masquerading and NetworkPolicy
// (nft_ct for conntrack state and marks), WireGuard between nodes), and the socket diagnostics
// the node management API lists sockets with (tcp_diag, udp_diag over inet_diag), and loop
// devices for the workers' local volumes, and 802.1Q and bonding for the VLAN links and bonds of
// a node's network configuration. dm-crypt's
// aes-xts-plain64 needs the xts and ecb templates, and nftables its expression modules (the
// kernel would otherwise request them by itself; there is no modprobe).
var SystemModules = []string{
	"virtio_net", "ecb", "xts", "dm_crypt", "vfat", "nls_cp437", "nls_ascii", "nls_iso8859_1", "qemu_fw_cfg", "ext4",
	"wireguard", "overlay", "veth", "dummy",
	"nf_tables", "nft_chain_nat", "nft_nat", "nft_masq", "nft_numgen", "nft_fib_ipv4", "nft_fib_ipv6",
	"nft_reject_ipv4", "nft_reject_ipv6", "nft_ct", "nf_conntrack_netlink",
	"tcp_diag", "udp_diag",
	"loop", "8021q", "bonding",
}
