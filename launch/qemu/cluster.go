package qemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"metropolis.dev/metropolis/launch/netns"
	"metropolis.dev/metropolis/osbase/swtpm"
)

// Cluster is a cluster of QEMU VMs on this machine, as recorded in its directory.
type Cluster struct {
	// Name names the cluster, its network and its metroctl context.
	Name string `json:"name"`
	// Dir holds the record and one directory per node.
	Dir string `json:"-"`
	// Image is the built disk image (raw) that every node's disk overlays.
	Image string `json:"image"`
	// Network is the network spec of the bridge the VMs' taps are attached to.
	Network netns.Spec `json:"network"`
	// Machine is what every VM gets.
	Machine Machine `json:"machine"`
	// Nodes are the nodes, node 1 first.
	Nodes []Node `json:"nodes"`
}

// Machine is the virtual hardware of every VM of a cluster.
type Machine struct {
	CPUs      int `json:"cpus"`
	MemoryMiB int `json:"memory_mib"`
	// DiskSize is the size of each node's disk overlay in bytes, at least the image's.
	DiskSize int64 `json:"disk_size"`
	// FirmwareCode and FirmwareVars are OVMF's code and its variable store template.
	FirmwareCode string `json:"firmware_code"`
	FirmwareVars string `json:"firmware_vars"`
	// Cards is how many network cards each VM has on the cluster's bridge (0: one). A node's
	// parameters name its first; the others are for bonds (CardMAC, CardTapName).
	Cards int `json:"cards,omitempty"`
}

// Node is one VM.
type Node struct {
	// Address is the node's static IPv4 address on the cluster's bridge.
	Address string `json:"address"`
	// MAC is the address of the VM's network card, which its parameters name.
	MAC string `json:"mac"`
	// Disk, if set, replaces the node's own disk overlay: the VM boots from this file
	// (qcow2 if its name ends in .qcow2, else raw).
	Disk string `json:"disk,omitempty"`
	// TPMState, if set, replaces the node's own TPM state directory.
	TPMState string `json:"tpm_state,omitempty"`
	// ClockOffset, if not zero, starts the VM's hardware clock this far from the host's at
	// every start of QEMU: a machine whose clock is wrong, for tests of time keeping.
	ClockOffset time.Duration `json:"clock_offset,omitempty"`
}

// recordFile names the record. It differs from the hosted launcher's, so that metroctl tells
// the two kinds of cluster apart by their directory alone.
const recordFile = "qemu-cluster.json"

// IsCluster says whether dir holds a QEMU cluster's record.
func IsCluster(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, recordFile))
	return err == nil
}

// Load reads the record of the cluster in dir.
func Load(dir string) (*Cluster, error) {
	path := filepath.Join(dir, recordFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("qemu cluster: %w", err)
	}
	c, err := parseRecord(data)
	if err != nil {
		return nil, fmt.Errorf("qemu cluster: %s is damaged: %w", path, err)
	}
	c.Dir = dir
	return c, nil
}

// parseRecord decodes and checks a cluster record.
func parseRecord(data []byte) (*Cluster, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Cluster
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	if c.Name == "" || c.Image == "" || len(c.Nodes) == 0 || len(c.Nodes) > maxNodes {
		return nil, fmt.Errorf("name, image and 1 to %d nodes are required", maxNodes)
	}
	if err := checkCards(c.Machine.Cards, c.Network.Name, len(c.Nodes)); err != nil {
		return nil, err
	}
	for i, n := range c.Nodes {
		if _, err := net.ParseMAC(n.MAC); err != nil {
			return nil, fmt.Errorf("node %d: mac: %w", i+1, err)
		}
		if net.ParseIP(n.Address) == nil {
			return nil, fmt.Errorf("node %d: address %q is not an IP address", i+1, n.Address)
		}
		if n.ClockOffset.Abs() > maxClockOffset {
			return nil, fmt.Errorf("node %d: clock_offset %v is more than %v either way", i+1, n.ClockOffset, maxClockOffset)
		}
	}
	return &c, nil
}

func (c *Cluster) save() error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Dir, recordFile), data, 0o600)
}

// NodeCount is the number of nodes in the cluster.
func (c *Cluster) NodeCount() int { return len(c.Nodes) }

func (c *Cluster) node(i int) (*Node, error) {
	if i < 1 || i > len(c.Nodes) {
		return nil, fmt.Errorf("cluster %s: no node %d (it has nodes 1 to %d)", c.Name, i, len(c.Nodes))
	}
	return &c.Nodes[i-1], nil
}

// NodeDir is where node i keeps its files.
func (c *Cluster) NodeDir(i int) string { return filepath.Join(c.Dir, fmt.Sprintf("node%d", i)) }

// LogPath is node i's serial console log, appended to across boots.
func (c *Cluster) LogPath(i int) string { return filepath.Join(c.NodeDir(i), "console.log") }

// DiskPath is the disk node i boots from: its overlay of the image, or what SetNodeDisk gave.
func (c *Cluster) DiskPath(i int) string {
	if n, err := c.node(i); err == nil && n.Disk != "" {
		return n.Disk
	}
	return filepath.Join(c.NodeDir(i), "disk.qcow2")
}

// VendorCA is the cluster's stand-in for a TPM vendor: every node's TPM gets its endorsement
// key certificate from it, and an attestation policy trusts its certificates.
func (c *Cluster) VendorCA() swtpm.VendorCA {
	return swtpm.VendorCA{Dir: filepath.Join(c.Dir, "tpm-vendor-ca")}
}

// TPMStateDir is where node i's TPM keeps its state: its own directory, or what
// SetNodeTPMState gave.
func (c *Cluster) TPMStateDir(i int) string {
	if n, err := c.node(i); err == nil && n.TPMState != "" {
		return n.TPMState
	}
	return filepath.Join(c.NodeDir(i), "tpm")
}

// SetNodeDisk makes node i boot from disk (an absolute path; qcow2 if it ends in .qcow2,
// else raw) from its next start on; "" returns it to its own overlay. For tests that tamper
// with a disk or move one to another node.
func (c *Cluster) SetNodeDisk(i int, disk string) error {
	return c.setOverride(i, disk, func(n *Node) *string { return &n.Disk })
}

// SetNodeTPMState makes node i's TPM use the state in dir (an absolute path) from its next
// start on; "" returns it to its own. For tests that give a node another node's TPM.
func (c *Cluster) SetNodeTPMState(i int, dir string) error {
	return c.setOverride(i, dir, func(n *Node) *string { return &n.TPMState })
}

// maxClockOffset bounds SetNodeClockOffset: far enough for any test of a wrong clock, near
// enough that the guest's certificates and firmware still make sense of the date.
const maxClockOffset = 365 * 24 * time.Hour

// SetNodeClockOffset makes node i's hardware clock start offset from the host's (positive:
// ahead) from its next start on; zero returns it to the host's time.
func (c *Cluster) SetNodeClockOffset(i int, offset time.Duration) error {
	n, err := c.node(i)
	if err != nil {
		return err
	}
	if offset.Abs() > maxClockOffset {
		return fmt.Errorf("node %d: clock offset %v: want at most %v either way", i, offset, maxClockOffset)
	}
	if c.NodeRunning(i) {
		return fmt.Errorf("node %d is running; stop it first", i)
	}
	n.ClockOffset = offset
	return c.save()
}

func (c *Cluster) setOverride(i int, path string, field func(*Node) *string) error {
	n, err := c.node(i)
	if err != nil {
		return err
	}
	if path != "" && (!filepath.IsAbs(path) || strings.Contains(path, ",")) {
		return fmt.Errorf("node %d: path %q: want an absolute path without commas", i, path)
	}
	if c.NodeRunning(i) {
		return fmt.Errorf("node %d is running; stop it first", i)
	}
	*field(n) = path
	return c.save()
}

// Destroy stops every VM and TPM, removes the taps and the bridge, and deletes the cluster's
// directory. It goes on past errors, so that a half-launched or half-destroyed cluster can
// always be removed, and reports them all.
func (c *Cluster) Destroy() error {
	var errs []error
	for i := 1; i <= c.NodeCount(); i++ {
		if err := c.KillNode(i, false); err != nil {
			errs = append(errs, err)
		}
	}
	if err := netns.DestroyByName(c.Network.Name); err != nil {
		errs = append(errs, fmt.Errorf("remove network %s: %w", c.Network.Name, err))
	}
	if err := os.RemoveAll(c.Dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy cluster %s: %w", c.Name, err)
	}
	return nil
}
