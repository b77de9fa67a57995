package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/platform"
	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/osbase/blockdev"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/netconfig"
	"metropolis.dev/metropolis/osbase/tpm"
)

// Platform is the node program's view of the machine. Create it with New; run RunNetwork
// under the supervisor beside the node.
type Platform struct {
	storage *storage
	updates *update.Service
	network *netconfig.Service
	params  *apb.NodeParameters

	mu       sync.Mutex
	stopping int // 0, ExitPowerOff or ExitReboot
	stop     context.CancelFunc
}

var _ platform.Platform = (*Platform)(nil)

// New mounts the ESP, decides what this boot is (node/update: the committed release or a
// trial of a new one), reads the node parameters (from the ESP or fw_cfg; a node that already
// belongs to a cluster needs none, and then configures its network by DHCP) and prepares the
// network: the one the node's configuration last gave it (remembered on the ESP), else the
// parameters'. stop stops the node's services when a reboot or shutdown is requested. logs is
// the node's log tree (a failed trial keeps its last problems).
func New(ctx context.Context, stop context.CancelFunc, logs *logtree.LogTree) (*Platform, error) {
	esp, err := mountESP(ctx)
	if err != nil {
		return nil, err
	}
	st := &storage{espMount: layout.ESPMount, dataMount: layout.DataMount}
	updates, err := newUpdates(ctx, esp, st, logs)
	if err != nil {
		return nil, fmt.Errorf("system slots and updates: %w", err)
	}
	params, err := readParameters(parameterSources(layout.ESPMount))
	if err != nil {
		return nil, err
	}
	static, err := apb.StaticNetwork(params.GetNetwork())
	if err != nil {
		return nil, fmt.Errorf("node parameters: %w", err)
	}
	network := netconfig.New(netconfig.Config{
		Static:         static,
		ResolvConfPath: "/etc/resolv.conf",
		MemoryPath:     filepath.Join(layout.ESPMount, layout.ESPNetworkPath),
	})
	return &Platform{
		storage: st,
		updates: updates,
		network: network,
		params:  params,
		stop:    stop,
	}, nil
}

// mountESP mounts the disk's EFI system partition, where the node parameters and the sealed
// record live.
func mountESP(ctx context.Context) (blockdev.Partition, error) {
	ctx, cancel := context.WithTimeout(ctx, findTimeout)
	defer cancel()
	esp, err := blockdev.Find(ctx, blockdev.Query{Type: layout.TypeESP, Name: layout.NameESP})
	if err != nil {
		return esp, fmt.Errorf("ESP: %w", err)
	}
	if err := os.MkdirAll(layout.ESPMount, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return esp, err
	}
	if err := unix.Mount(esp.Path, layout.ESPMount, "vfat", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "umask=0077"); err != nil {
		return esp, fmt.Errorf("mount ESP %s: %w", esp.Path, err)
	}
	return esp, nil
}

// Network implements platform.Platform.
func (p *Platform) Network() *netconfig.Service { return p.network }

// RunNetwork configures and keeps the node's network; run it under the supervisor.
func (p *Platform) RunNetwork(ctx context.Context) error { return p.network.Run(ctx) }

// Kind implements platform.Platform.
func (p *Platform) Kind() string { return "image" }

// StateDir implements platform.Platform: the mounted data partition.
func (p *Platform) StateDir() string { return layout.DataMount }

// Parameters implements platform.Platform.
func (p *Platform) Parameters() (*apb.NodeParameters, error) { return p.params, nil }

// Updates implements platform.Platform.
func (p *Platform) Updates() *update.Service { return p.updates }

// OpenAttestor implements platform.Platform: the machine's TPM, which the image requires.
func (p *Platform) OpenAttestor() (*tpm.Attestor, error) { return tpm.OpenAttestor() }

// Storage implements platform.Platform.
func (p *Platform) Storage() platform.Storage { return p.storage }

// Address implements platform.Platform: the node's first IPv4 address (IPv6 otherwise), once
// the network has one.
func (p *Platform) Address(ctx context.Context) (net.IP, error) {
	w := p.network.Watch()
	defer w.Close()
	st, err := w.Get(ctx, event.Filter(netconfig.HasAddress))
	if err != nil {
		return nil, err
	}
	return st.PreferredAddress(), nil
}

// Reboot implements platform.Platform.
func (p *Platform) Reboot(context.Context) error { return p.request(ExitReboot) }

// Shutdown implements platform.Platform.
func (p *Platform) Shutdown(context.Context) error { return p.request(ExitPowerOff) }

func (p *Platform) request(code int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping != 0 {
		return errors.New("the node is already stopping")
	}
	p.stopping = code
	p.stop()
	return nil
}

// ExitCode is what the node program exits with once its services stopped: what was requested,
// or a crash code if nothing was (the init process then reboots after a pause).
func (p *Platform) ExitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping == 0 {
		return 1
	}
	return p.stopping
}
