package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"metropolis.dev/metropolis/launch/netns"
	"metropolis.dev/metropolis/metroctl/config"
)

// Defaults of Options.
const (
	DefaultCPUs         = 2
	DefaultMemoryMiB    = 2048
	DefaultFirmwareCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	DefaultFirmwareVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// Options say what cluster to create or launch.
type Options struct {
	// Name names the cluster, its network and its metroctl context.
	Name string
	// Nodes is how many nodes (at least 1).
	Nodes int
	// Image is the built node disk image (raw), e.g. mkimage's Result.Image.
	Image string
	// Dir is the cluster's directory; it must not exist yet.
	Dir string
	// Contexts is metroctl's configuration, where Launch creates the cluster's context and
	// makes it current. Create does not use it.
	Contexts *config.Store
	// Subnet is the nodes' IPv4 network; the zero value picks one from the name.
	Subnet netip.Prefix
	// ConsensusMembers is how many nodes Launch makes consensus members (0: three, or all
	// nodes if fewer).
	ConsensusMembers int
	// RequireAttestation bootstraps the cluster with TPM attestation required, trusting the
	// cluster's own TPM vendor CA (VendorCA) and the release node 1 boots (docs/attestation.md).
	RequireAttestation bool
	// CPUs and MemoryMiB size every VM; zero values take the defaults.
	CPUs      int
	MemoryMiB int
	// Workers are the nodes (numbered from 1) Launch gives the KubernetesWorker role once
	// every node is UP (see ChooseShape).
	Workers []int
	// DiskSize is each node's disk size in bytes. Zero, or less than the image's size, means
	// the image's size: the image builder already leaves room for the data partition, and its
	// backup GPT header is then where the node expects it, at the disk's end.
	DiskSize int64
	// FirmwareCode and FirmwareVars are OVMF's files; empty takes Debian's (package ovmf).
	FirmwareCode string
	FirmwareVars string
	// Cards is how many network cards each VM has, 1 to 4 (0: one), all on the cluster's
	// bridge: more than one lets a node bond them (Cluster.CardMAC names them, and
	// Cluster.SetCardLink cuts one's cable).
	Cards int
	// Progress receives a line for every step; nil discards them.
	Progress io.Writer
	// WaitTimeout bounds each wait of Launch (for a node's API, for registrations, for nodes
	// to join); zero means DefaultWaitTimeout.
	WaitTimeout time.Duration
}

func (o *Options) withDefaults() {
	if o.CPUs == 0 {
		o.CPUs = DefaultCPUs
	}
	if o.MemoryMiB == 0 {
		o.MemoryMiB = DefaultMemoryMiB
	}
	if o.FirmwareCode == "" {
		o.FirmwareCode = DefaultFirmwareCode
	}
	if o.FirmwareVars == "" {
		o.FirmwareVars = DefaultFirmwareVars
	}
}

func (o *Options) check() error {
	if err := config.ValidateContextName(o.Name); err != nil {
		return fmt.Errorf("cluster name: %w", err)
	}
	if o.Nodes < 1 || o.Nodes > maxNodes {
		return fmt.Errorf("nodes: want 1 to %d, got %d", maxNodes, o.Nodes)
	}
	if err := checkCards(o.Cards, o.Name, o.Nodes); err != nil {
		return err
	}
	if o.Image == "" {
		return errors.New("no node image given: build one (go run ./cmd/mkimage) and pass its path (metroctl: --image)")
	}
	for _, f := range []struct{ what, path string }{
		{"node image", o.Image}, {"OVMF firmware (Debian package ovmf)", o.FirmwareCode},
		{"OVMF variable store (Debian package ovmf)", o.FirmwareVars},
	} {
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s: %w", f.what, err)
		}
	}
	for tool := range tools {
		if _, err := lookTool(tool); err != nil {
			return err
		}
	}
	if strings.Contains(o.Dir, ",") {
		return fmt.Errorf("cluster directory %s: QEMU and swtpm options cannot hold a comma", o.Dir)
	}
	if _, err := os.Stat(o.Dir); err == nil {
		return fmt.Errorf("cluster %s already exists (%s); destroy it first", o.Name, o.Dir)
	}
	return nil
}

// Create makes a cluster's network (its bridge) and directory, and records its nodes, without
// starting any: StartNode starts one. Launch uses it; tests that boot something other than a
// cluster use it directly. On error nothing is left behind.
func Create(ctx context.Context, o Options) (*Cluster, error) {
	o.withDefaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	image, err := filepath.Abs(o.Image)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(image)
	if err != nil {
		return nil, fmt.Errorf("node image: %w", err)
	}
	spec := netns.Spec{Name: o.Name, Subnet: o.Subnet}
	if !spec.Subnet.IsValid() {
		spec.Subnet = netns.SubnetFor(o.Name)
	}
	network, err := netns.Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		Name: o.Name, Dir: dir, Image: image, Network: network.Spec(),
		Machine: Machine{
			CPUs: o.CPUs, MemoryMiB: o.MemoryMiB, DiskSize: max(o.DiskSize, st.Size()),
			FirmwareCode: o.FirmwareCode, FirmwareVars: o.FirmwareVars, Cards: o.Cards,
		},
	}
	for i := 1; i <= o.Nodes; i++ {
		addr := network.NodeAddress(i)
		if !addr.IsValid() {
			err = fmt.Errorf("subnet %s has no room for node %d", spec.Subnet, i)
			break
		}
		c.Nodes = append(c.Nodes, Node{Address: addr.String(), MAC: nodeMAC(o.Name, i).String()})
	}
	if err == nil {
		if err = os.MkdirAll(dir, 0o700); err == nil {
			err = c.save()
		}
	}
	if err != nil {
		err = errors.Join(err, network.Destroy(), os.RemoveAll(dir))
		return nil, fmt.Errorf("create cluster %s: %w", o.Name, err)
	}
	return c, nil
}
