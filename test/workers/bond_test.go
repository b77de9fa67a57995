package workers

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// failoverTimeout bounds a bond's move to its other card under TCG: the bond sees the link go
// within its MII interval (100 ms), and the node's next heartbeat goes out on the other card.
const failoverTimeout = 2 * time.Minute

// testNodeBond makes the uplink of node id (the launcher's node index, at address, its
// configuration at version v) a bond of its two network cards, as a trial that is then
// confirmed. With either card's cable pulled, the node stays UP and answers at its address
// through the other card, which the node reports as the bond's active member. The bond stays
// for the caller, which clears the node's network afterwards.
func testNodeBond(t *testing.T, ctx context.Context, c *testenv.VMCluster, id string, index int, address netip.Prefix, gateway netip.Addr, v uint64) {
	mgmt := c.Mgmt
	cards := []string{c.CardMAC(index, 1).String(), c.CardMAC(index, 2).String()}
	bonded := &apb.NodeConfiguration{Network: &apb.NodeNetwork{
		Uplink: &apb.NetworkConfig{Mode: &apb.NetworkConfig_Static{Static: &apb.NetworkConfig_StaticMode{
			HardwareAddress: cards[0], Addresses: []string{address.String()}, Gateways: []string{gateway.String()},
		}}},
		Bond: &apb.NetworkBond{Members: cards},
	}}
	start := time.Now()
	res, err := mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: id, ExpectedVersion: v, Configuration: bonded,
		TryDuration: durationpb.New(networkTimeout)})
	if err != nil {
		t.Fatalf("try the bond: %v", err)
	}
	trial := res.GetStored().GetTrial().GetVersion()
	d := eventually.Pass(t, networkTimeout, fmt.Sprintf("node %s reporting trial %d (the bond) from %s", id, trial, address.Addr()), func(ctx context.Context) error {
		return nodeReports(ctx, mgmt, id, address.Addr().String(), func(cs *apb.NodeConfigurationStatus) error {
			if cs.GetTrialVersion() != trial {
				return fmt.Errorf("it reports trial version %d", cs.GetTrialVersion())
			}
			return noErrors(cs)
		})
	})
	t.Logf("ConfigureNode (the bond, a trial) → the node reports it: %.1fs", d.Seconds())
	if _, err := mgmt.ConfirmNodeConfiguration(ctx, &apb.ConfirmNodeConfigurationRequest{NodeId: id, Version: trial}); err != nil {
		t.Fatalf("confirm the bond: %v", err)
	}
	eventually.Pass(t, time.Minute, "bond0 holding the node's address, both cards its members and up", func(ctx context.Context) error {
		return bondHas(ctx, t, c, id, address, cards, -1)
	})
	t.Logf("ConfigureNode → bond0 with both cards: %.1fs", time.Since(start).Seconds())

	for pulled := range cards {
		other := 1 - pulled
		if err := c.SetCardLink(ctx, index, pulled+1, false); err != nil {
			t.Fatalf("pull card %d's cable: %v", pulled+1, err)
		}
		cut := time.Now()
		eventually.Pass(t, failoverTimeout, fmt.Sprintf("card %d pulled: the node answering through card %d, UP and healthy", pulled+1, other+1), func(ctx context.Context) error {
			if err := bondHas(ctx, t, c, id, address, cards, other); err != nil {
				return err
			}
			return nodeReports(ctx, mgmt, id, address.Addr().String(), noErrors)
		})
		t.Logf("card %d pulled → the node answers through card %d: %.1fs", pulled+1, other+1, time.Since(cut).Seconds())
		if err := c.SetCardLink(ctx, index, pulled+1, true); err != nil {
			t.Fatalf("plug card %d's cable in again: %v", pulled+1, err)
		}
		eventually.Pass(t, failoverTimeout, fmt.Sprintf("card %d back in the bond", pulled+1), func(ctx context.Context) error {
			return bondHas(ctx, t, c, id, address, cards, -1)
		})
	}
}

// bondHas checks, through node id's own API, that bond0 holds address and has cards as its
// members, all with carrier, or, with only >= 0, all but the card of that index cut off
// and that card the active member.
func bondHas(ctx context.Context, t *testing.T, c *testenv.VMCluster, id string, address netip.Prefix, cards []string, only int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := nodeManagement(ctx, t, c, id).GetNetwork(ctx, &apb.GetNetworkRequest{})
	if err != nil {
		return err
	}
	var bond *apb.NetworkInterface
	members := map[string]*apb.NetworkInterface{}
	for _, i := range res.GetInterfaces() {
		if i.GetName() == "bond0" {
			bond = i
		}
		if i.GetMaster() == "bond0" {
			own := i.GetPermanentHardwareAddress()
			if own == "" {
				own = i.GetHardwareAddress()
			}
			members[own] = i
		}
	}
	if bond == nil {
		return fmt.Errorf("the node has no bond0")
	}
	if !strings.Contains(strings.Join(bond.GetAddresses(), " "), address.String()) {
		return fmt.Errorf("bond0 has addresses %v, not %s", bond.GetAddresses(), address)
	}
	for k, hw := range cards {
		m := members[hw]
		switch {
		case m == nil:
			return fmt.Errorf("card %d (%s) is not a member of bond0", k+1, hw)
		case only < 0 && m.GetBondState() == "link down":
			return fmt.Errorf("card %d (%s, %s) is in bond0 with its link down", k+1, hw, m.GetName())
		case only >= 0 && k != only && m.GetBondState() != "link down":
			return fmt.Errorf("card %d (%s, %s), pulled, is in bond0 as %q", k+1, hw, m.GetName(), m.GetBondState())
		case only >= 0 && k == only && m.GetBondState() != "active":
			return fmt.Errorf("card %d (%s, %s) is in bond0 as %q, not active", k+1, hw, m.GetName(), m.GetBondState())
		}
	}
	return nil
}

// noBond checks that node id has no bond0 (any more).
func noBond(ctx context.Context, t *testing.T, c *testenv.VMCluster, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := nodeManagement(ctx, t, c, id).GetNetwork(ctx, &apb.GetNetworkRequest{})
	if err != nil {
		return err
	}
	for _, i := range res.GetInterfaces() {
		if i.GetName() == "bond0" || i.GetMaster() == "bond0" {
			return fmt.Errorf("the node still has %s (master %q)", i.GetName(), i.GetMaster())
		}
	}
	return nil
}
