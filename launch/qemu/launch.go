package qemu

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/grow"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/swtpm"
)

// Launch starts a cluster and returns once every node is UP and healthy. On failure it prints
// the end of the failing node's console and leaves what it started in place for inspection
// (the error says where the logs are); Destroy removes it.
func Launch(ctx context.Context, o Options) (*Cluster, error) {
	if err := checkContext(o); err != nil {
		return nil, err
	}
	waitTimeout := o.WaitTimeout
	if waitTimeout == 0 {
		waitTimeout = DefaultWaitTimeout
	}
	p := grow.NewProgress(o.Progress, waitTimeout)
	p.Step("creating the network for %d QEMU VMs; %s", o.Nodes, HostAccel())
	c, err := Create(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := c.launch(ctx, o, p); err != nil {
		var ne nodeError
		if errors.As(err, &ne) {
			c.reportConsole(p, ne.node)
		} else {
			for i := 1; i <= c.NodeCount(); i++ {
				if _, serr := os.Stat(c.LogPath(i)); serr == nil {
					c.reportConsole(p, i)
				}
			}
		}
		return c, fmt.Errorf("launch cluster %s: %w (node consoles: %s)", o.Name, err, filepath.Join(c.Dir, "node*", "console.log"))
	}
	p.Step("cluster %s is up: %d nodes, metroctl context %q is current", o.Name, c.NodeCount(), o.Name)
	return c, nil
}

func checkContext(o Options) error { return grow.CheckContextFree(o.Contexts, o.Name) }

// nodeError is a launch failure that concerns one node, whose console the launcher shows.
type nodeError struct {
	node int
	err  error
}

func (e nodeError) Error() string { return fmt.Sprintf("node %d: %v", e.node, e.err) }
func (e nodeError) Unwrap() error { return e.err }

func (c *Cluster) launch(ctx context.Context, o Options, p *grow.Progress) error {
	contexts, consensus, workers := o.Contexts, o.ConsensusMembers, o.Workers
	_, ownerKey, err := identity.GenerateKey()
	if err != nil {
		return err
	}
	endpoint := net.JoinHostPort(c.Nodes[0].Address, strconv.Itoa(int(ports.Curator)))
	bootstrap := &apb.ClusterBootstrap{OwnerPublicKey: ownerKey.Public().(ed25519.PublicKey)}
	if o.RequireAttestation {
		if bootstrap.AttestationPolicy, err = c.attestationPolicy(); err != nil {
			return err
		}
		p.Step("the cluster will require TPM attestation: its nodes' TPMs get EK certificates from %s, which it trusts", c.VendorCA().Dir)
	}
	if err := c.writeParameters(1, &apb.NodeParameters{Cluster: &apb.NodeParameters_ClusterBootstrap{
		ClusterBootstrap: bootstrap,
	}}); err != nil {
		return err
	}
	if err := c.startNode(p, 1, "to bootstrap the cluster"); err != nil {
		return err
	}
	mctx, err := grow.TakeOwnership(ctx, p, contexts, c.Name, endpoint, ownerKey, func() error { return c.checkRunning(1) })
	if err != nil {
		return nodeError{1, err}
	}
	if err := grow.Grow(ctx, mctx, machines{c, p}, consensus, p); err != nil {
		return err
	}
	var addresses []string
	for _, n := range c.Nodes {
		addresses = append(addresses, n.Address)
	}
	if err := grow.SetCuratorEndpoints(contexts, c.Name, addresses); err != nil {
		return err
	}
	var workerAddresses []string
	for _, i := range workers {
		if i < 1 || i > len(c.Nodes) {
			return fmt.Errorf("workers: node %d is not one of the cluster's %d nodes", i, len(c.Nodes))
		}
		workerAddresses = append(workerAddresses, c.Nodes[i-1].Address)
	}
	return grow.AddWorkers(ctx, mctx, workerAddresses, p)
}

func (c *Cluster) startNode(p *grow.Progress, i int, why string) error {
	p.Step("starting swtpm and VM for node %d at %s (MAC %s) %s", i, c.Nodes[i-1].Address, c.Nodes[i-1].MAC, why)
	if err := c.StartNode(i); err != nil {
		return nodeError{i, err}
	}
	return nil
}

// checkRunning fails for good if node i's VM has ended: waiting would not bring it back.
func (c *Cluster) checkRunning(i int) error {
	if !c.NodeRunning(i) {
		return grow.Permanent(nodeError{i, errors.New("its VM has ended (QEMU exited; see qemu.log beside its console)")})
	}
	return nil
}

// writeParameters writes node i's parameters, with the static network configuration that
// matches its VM, to the file QEMU hands to the guest.
func (c *Cluster) writeParameters(i int, params *apb.NodeParameters) error {
	n, err := c.node(i)
	if err != nil {
		return err
	}
	mac, err := net.ParseMAC(n.MAC)
	if err != nil {
		return fmt.Errorf("node %d: %w", i, err)
	}
	addr, err := netip.ParseAddr(n.Address)
	if err != nil {
		return fmt.Errorf("node %d: %w", i, err)
	}
	network, err := c.network()
	if err != nil {
		return err
	}
	if params.Network, err = staticNetwork(mac, addr, network.Subnet(), network.HostAddress()); err != nil {
		return fmt.Errorf("node %d: %w", i, err)
	}
	if err := apb.ValidateNodeParameters(params); err != nil {
		return fmt.Errorf("node %d parameters: %w", i, err)
	}
	data, err := proto.Marshal(params)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.NodeDir(i), 0o700); err != nil {
		return err
	}
	return os.WriteFile(c.parametersPath(i), data, 0o600)
}

// machines are the cluster's VMs as grow.Grow starts them.
type machines struct {
	c *Cluster
	p *grow.Progress
}

func (m machines) NodeCount() int { return m.c.NodeCount() }

func (m machines) StartToRegister(i int, params *apb.NodeParameters) error {
	if err := m.c.writeParameters(i, params); err != nil {
		return err
	}
	return m.c.startNode(m.p, i, "to register")
}

// CheckRunning fails for good, naming the first, if a node's VM has ended.
func (m machines) CheckRunning() error {
	for i := 1; i <= m.c.NodeCount(); i++ {
		if err := m.c.checkRunning(i); err != nil {
			return err
		}
	}
	return nil
}

// attestationPolicy is the policy of a cluster that requires attestation: its own TPM vendor's
// CA certificates (made with node 1's TPM, manufactured now if it is not yet). The release node
// 1 boots is trusted by the bootstrap.
func (c *Cluster) attestationPolicy() (*apb.AttestationPolicy, error) {
	state := c.TPMStateDir(1)
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, err
	}
	if made, err := swtpm.Manufactured(state); err != nil {
		return nil, err
	} else if !made {
		if err := c.VendorCA().Manufacture(state); err != nil {
			return nil, fmt.Errorf("node 1: manufacture its TPM: %w", err)
		}
	}
	root, intermediate, err := c.VendorCA().Certificates()
	if err != nil {
		return nil, err
	}
	return &apb.AttestationPolicy{Required: true, EkCaCertificates: [][]byte{root.Raw, intermediate.Raw}}, nil
}
