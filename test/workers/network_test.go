package workers

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/kubectl"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// networkTimeout bounds a network change under TCG: the node applies it at once, but its
// Kubernetes worker starts over at a moved address (containerd, the kubelet, its
// certificates) before the Node is Ready again.
const networkTimeout = 6 * time.Minute

// Addresses on the VLAN the test adds: the node's, and the made-up peer's on the host side.
var (
	vlanNode   = netip.MustParsePrefix("10.100.0.2/24")
	vlanPeerIP = net.ParseIP("10.100.0.1")
)

const testVLAN = 100

// testNodeNetwork changes the network of worker id (not a consensus member) while it runs:
//   - a trial moves it to another address in its subnet and adds a VLAN; the node reports the
//     trial from its new address, the trial is confirmed, the VLAN answers a tagged ping, and
//     the node stays UP with its Kubernetes Node Ready at the new address;
//   - a trial with an address and gateway of a subnet nobody is on cuts the node off: it
//     cannot be confirmed, and the node reverts it by itself and is back;
//   - rebooted, it starts with the moved network, remembered on its ESP, not its boot
//     parameters';
//   - its two cards bonded, it stays UP with either cable pulled (testNodeBond);
//   - cleared, the node goes back to the network of its boot parameters, its bond gone.
func testNodeNetwork(t *testing.T, ctx context.Context, c *testenv.VMCluster, k *kubectl.Kubectl, id string) {
	mgmt := c.Mgmt
	n, err := mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
	if err != nil {
		t.Fatal(err)
	}
	if n.GetRoles().GetConsensusMember() {
		t.Fatalf("node %s is a consensus member, whose address cannot move; the test needs another", id)
	}
	boot := n.GetStatus().GetExternalAddress()
	index := 0
	for i, vm := range c.Nodes {
		if vm.Address == boot {
			index = i + 1
		}
	}
	if index == 0 {
		t.Fatalf("node %s's address %s is none of the launcher's nodes'", id, boot)
	}
	subnet := c.Network.Subnet
	gateway := subnet.Masked().Addr().Next()
	moved := subnet.Masked().Addr()
	for range 100 + index {
		moved = moved.Next()
	}
	version := func() uint64 {
		t.Helper()
		got, err := mgmt.GetNodeConfiguration(ctx, &apb.GetNodeConfigurationRequest{NodeId: id})
		if err != nil {
			t.Fatal(err)
		}
		return got.GetStored().GetVersion()
	}
	static := func(addr netip.Prefix, gw netip.Addr) *apb.NetworkConfig {
		return &apb.NetworkConfig{Mode: &apb.NetworkConfig_Static{Static: &apb.NetworkConfig_StaticMode{
			HardwareAddress: c.Nodes[index-1].MAC, Addresses: []string{addr.String()}, Gateways: []string{gw.String()},
		}}}
	}

	// A trial moves the node and adds a VLAN.
	v := version()
	movedCfg := &apb.NodeConfiguration{Network: &apb.NodeNetwork{
		Uplink: static(netip.PrefixFrom(moved, subnet.Bits()), gateway),
		Vlans:  []*apb.VlanLink{{Id: testVLAN, Addresses: []string{vlanNode.String()}}},
	}}
	start := time.Now()
	if _, err := mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: id, ExpectedVersion: v, Configuration: movedCfg,
		TryDuration: durationpb.New(networkTimeout)}); err != nil {
		t.Fatalf("try the moved network: %v", err)
	}
	d := eventually.Pass(t, networkTimeout, fmt.Sprintf("node %s reporting trial %d from %s", id, v+1, moved), func(ctx context.Context) error {
		return nodeReports(ctx, mgmt, id, moved.String(), func(cs *apb.NodeConfigurationStatus) error {
			if cs.GetTrialVersion() != v+1 {
				return fmt.Errorf("it reports trial version %d", cs.GetTrialVersion())
			}
			return noErrors(cs)
		})
	})
	t.Logf("ConfigureNode (trial) → the node reports it from its new address %s: %.1fs", moved, d.Seconds())
	if _, err := mgmt.ConfirmNodeConfiguration(ctx, &apb.ConfirmNodeConfigurationRequest{NodeId: id, Version: v + 1}); err != nil {
		t.Fatalf("confirm the moved network: %v", err)
	}
	if got := version(); got != v+1 {
		t.Fatalf("after the confirmation the configuration is at version %d, want %d", got, v+1)
	}
	d = eventually.Pass(t, time.Minute, fmt.Sprintf("a tagged ping to %s on VLAN %d", vlanNode.Addr(), testVLAN), func(context.Context) error {
		rtt, err := vlanPing(c.TapName(index), testVLAN, vlanPeerIP, net.IP(vlanNode.Addr().AsSlice()), 10*time.Second)
		if err == nil {
			t.Logf("VLAN %d: echo from %s in %v", testVLAN, vlanNode.Addr(), rtt.Round(time.Microsecond))
		}
		return err
	})
	t.Logf("the VLAN answers: %.1fs after the confirmation", d.Seconds())
	eventually.Pass(t, networkTimeout, "the Kubernetes Node Ready at the moved address", func(context.Context) error {
		return nodeAt(k, id, moved.String())
	})
	t.Logf("ConfigureNode → Node Ready at %s: %.1fs", moved, time.Since(start).Seconds())

	// A trial of a subnet nobody is on cuts the node off; it goes back by itself.
	const tryWrong = 45 * time.Second
	wrong := &apb.NodeConfiguration{Network: &apb.NodeNetwork{Uplink: static(netip.MustParsePrefix("10.99.0.5/24"), netip.MustParseAddr("10.99.0.1"))}}
	if _, err := mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: id, ExpectedVersion: v + 1, Configuration: wrong,
		TryDuration: durationpb.New(tryWrong)}); err != nil {
		t.Fatalf("try the wrong network: %v", err)
	}
	// The node can never report a trial that cut it off, so it can never be confirmed.
	_, err = mgmt.ConfirmNodeConfiguration(ctx, &apb.ConfirmNodeConfigurationRequest{NodeId: id, Version: v + 2})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "has not reported running version") {
		t.Errorf("confirming a trial that cut the node off: %v, want FailedPrecondition", err)
	}
	d = eventually.Pass(t, tryWrong+networkTimeout, fmt.Sprintf("node %s back at %s, saying it reverted trial %d", id, moved, v+2), func(ctx context.Context) error {
		return nodeReports(ctx, mgmt, id, moved.String(), func(cs *apb.NodeConfigurationStatus) error {
			if cs.GetTrialVersion() != 0 || !strings.Contains(cs.GetReverted(), fmt.Sprintf("trial version %d reverted", v+2)) {
				return fmt.Errorf("it reports trial %d, reverted %q", cs.GetTrialVersion(), cs.GetReverted())
			}
			return nil
		})
	})
	t.Logf("ConfigureNode (a %v trial cutting the node off) → the node back, reverted: %.1fs", tryWrong, d.Seconds())
	if got := version(); got != v+1 {
		t.Errorf("after the reverted trial the configuration is at version %d, want %d still", got, v+1)
	}

	// Rebooted, the node starts with the network its configuration gave it, remembered on its
	// ESP, not with its boot parameters' (which would bring it up at its old address first).
	reboot := time.Now()
	rebootNode(t, c, id)
	d = eventually.Pass(t, networkTimeout, fmt.Sprintf("node %s back from its reboot at %s, saying it started with the remembered network", id, moved), func(ctx context.Context) error {
		if err := nodeReports(ctx, mgmt, id, moved.String(), noErrors); err != nil {
			return err
		}
		return loggedSince(ctx, t, c, id, reboot, "starting with the network remembered in ")
	})
	t.Logf("reboot → the node back at its configured address %s: %.1fs", moved, d.Seconds())
	eventually.Pass(t, networkTimeout, "the Kubernetes Node Ready at the moved address after the reboot", func(context.Context) error {
		return nodeAt(k, id, moved.String())
	})

	// Its two cards bonded, the node stays on its network with either cable pulled.
	testNodeBond(t, ctx, c, id, index, netip.PrefixFrom(moved, subnet.Bits()), gateway, version())

	// Cleared, the node goes back to its boot network, on its one card.
	if _, err := mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: id, ExpectedVersion: version()}); err != nil {
		t.Fatalf("clear the network: %v", err)
	}
	eventually.Pass(t, networkTimeout, fmt.Sprintf("node %s back at its boot address %s without a bond, its Node Ready there", id, boot), func(ctx context.Context) error {
		if err := nodeReports(ctx, mgmt, id, boot, noErrors); err != nil {
			return err
		}
		if err := noBond(ctx, t, c, id); err != nil {
			return err
		}
		return nodeAt(k, id, boot)
	})
}

// loggedSince checks that node id has logged a line containing text since t0 (the log tree
// holds the current boot's entries).
func loggedSince(ctx context.Context, t *testing.T, c *testenv.VMCluster, id string, t0 time.Time, text string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	stream, err := nodeManagement(ctx, t, c, id).GetLogs(ctx, &apb.GetLogsRequest{
		Dn: "root", BacklogMode: apb.GetLogsRequest_BACKLOG_MODE_ALL, StreamMode: apb.GetLogsRequest_STREAM_MODE_DISABLE,
		Filter: &apb.LogFilter{WithChildren: true, EntryKind: apb.LogFilter_ENTRY_KIND_LEVELED},
	})
	if err != nil {
		return err
	}
	for {
		res, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("no log line since %s says %q (%v)", t0.Format(time.TimeOnly), text, err)
		}
		for _, e := range res.GetBacklogEntries() {
			l := e.GetLeveled()
			if l == nil || l.GetTimestamp().AsTime().Before(t0) {
				continue
			}
			for _, line := range l.GetLines() {
				if strings.Contains(line, text) {
					return nil
				}
			}
		}
	}
}

// nodeReports checks that node id is UP and healthy, reports address, and that check accepts
// its configuration status.
func nodeReports(ctx context.Context, mgmt apb.ManagementClient, id, address string, check func(*apb.NodeConfigurationStatus) error) error {
	n, err := mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
	if err != nil {
		return err
	}
	if n.GetState() != apb.NodeState_NODE_STATE_UP || n.GetHealth() != apb.NodeHealth_NODE_HEALTH_HEALTHY {
		return fmt.Errorf("node %s is %v, %v", id, n.GetState(), n.GetHealth())
	}
	if got := n.GetStatus().GetExternalAddress(); got != address {
		return fmt.Errorf("node %s reports address %s", id, got)
	}
	return check(n.GetStatus().GetConfiguration())
}

func noErrors(cs *apb.NodeConfigurationStatus) error {
	if len(cs.GetErrors()) > 0 {
		return fmt.Errorf("it reports errors: %q", cs.GetErrors())
	}
	return nil
}

// nodeAt checks that Kubernetes Node id is Ready with InternalIP address.
func nodeAt(k *kubectl.Kubectl, id, address string) error {
	out, err := k.Run("", "get", "node", id, "-o", `jsonpath={.status.addresses[?(@.type=="InternalIP")].address} {.status.conditions[?(@.type=="Ready")].status}`)
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(out); got != address+" True" {
		return fmt.Errorf("node %s: InternalIP and Ready are %q", id, got)
	}
	return nil
}
