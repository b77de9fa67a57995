package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/grow"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// bootTimeout bounds one boot to a given point under TCG, with room for a loaded machine.
const bootTimeout = 6 * time.Minute

// TestSingleNode boots one node from the image: it bootstraps a cluster, is taken over by its
// owner and is UP; it reboots through the API and comes back with its data (unlocked through
// the TPM); it powers off through the API; its disk does not unlock under another TPM; and a
// system partition with one byte changed is refused. One VM serves all steps: each boot costs a minute under TCG.
func TestSingleNode(t *testing.T) {
	suite.Require(t)
	ctx := context.Background()
	c := testenv.LaunchVMs(t, qemu.Options{
		Name: "imgtest", Nodes: 1, Image: built.ImagePath, WaitTimeout: bootTimeout,
	})
	console := c.LogPath(1)
	mgmt := c.Mgmt
	node := upNode(t, mgmt)
	info, err := mgmt.GetClusterInfo(ctx, &apb.GetClusterInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitForConsole(t, console, "first start: creating this node's data storage", 1, time.Second)

	t.Run("reboot through the API keeps the node and its data", func(t *testing.T) {
		nconn, err := connect.Node(ctx, c.Context, node.Id, net.JoinHostPort(node.GetStatus().GetExternalAddress(), strconv.Itoa(int(ports.NodeManagement))))
		if err != nil {
			t.Fatal(err)
		}
		defer nconn.Close()
		if _, err := apb.NewNodeManagementClient(nconn).Reboot(ctx, &apb.RebootRequest{}); err != nil {
			t.Fatalf("reboot: %v", err)
		}
		rebooted := time.Now()
		waitForConsole(t, console, "data storage unlocked", 1, bootTimeout)
		d := eventually.Pass(t, bootTimeout, "the node UP again after its reboot", func(ctx context.Context) error {
			again, err := upNodeErr(ctx, mgmt)
			if err != nil {
				return err
			}
			if again.Id != node.Id {
				return fmt.Errorf("the node came back as %s, was %s", again.Id, node.Id)
			}
			info2, err := mgmt.GetClusterInfo(ctx, &apb.GetClusterInfoRequest{})
			if err != nil {
				return err
			}
			if info2.ClusterId != info.ClusterId {
				return fmt.Errorf("cluster is %s after the reboot, was %s", info2.ClusterId, info.ClusterId)
			}
			return nil
		})
		t.Logf("back UP %.0fs after the reboot request (%.0fs after its storage unlocked)", time.Since(rebooted).Seconds(), d.Seconds())
	})

	t.Run("shutdown through the API powers the VM off", func(t *testing.T) {
		nconn, err := connect.Node(ctx, c.Context, node.Id, net.JoinHostPort(node.GetStatus().GetExternalAddress(), strconv.Itoa(int(ports.NodeManagement))))
		if err != nil {
			t.Fatal(err)
		}
		defer nconn.Close()
		if _, err := apb.NewNodeManagementClient(nconn).Shutdown(ctx, &apb.ShutdownRequest{}); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		waitForConsole(t, console, "metropolis-node: powering off", 1, time.Minute)
		eventually.Pass(t, time.Minute, "the VM to power off", func(context.Context) error {
			if c.NodeRunning(1) {
				return errors.New("still running")
			}
			return nil
		})
	})

	t.Run("the disk does not unlock under another TPM", func(t *testing.T) {
		if c.NodeRunning(1) {
			if err := c.KillNode(1, false); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.SetNodeTPMState(1, t.TempDir()); err != nil {
			t.Fatal(err)
		}
		if err := c.StartNode(1); err != nil {
			t.Fatal(err)
		}
		waitForConsole(t, console, "sealed to another machine's TPM", 1, bootTimeout)
		if err := c.KillNode(1, true); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a changed byte in the system partition is refused", func(t *testing.T) {
		tampered := filepath.Join(t.TempDir(), "tampered.img")
		if out, err := exec.Command("cp", "--sparse=always", built.ImagePath, tampered).CombinedOutput(); err != nil {
			t.Fatalf("copy image: %v: %s", err, out)
		}
		offset := built.Partitions.SystemAOffset + built.ErofsSize/2
		if err := flipByte(tampered, offset); err != nil {
			t.Fatal(err)
		}
		if err := c.SetNodeDisk(1, tampered); err != nil {
			t.Fatal(err)
		}
		if err := c.StartNode(1); err != nil {
			t.Fatal(err)
		}
		waitForConsole(t, console, "failed verification", 1, bootTimeout)
		eventually.Pass(t, time.Minute, "the VM to power off", func(context.Context) error {
			if c.NodeRunning(1) {
				return errors.New("still running")
			}
			return nil
		})
	})
}

// upNode returns the cluster's only node once it is UP.
func upNode(t *testing.T, mgmt apb.ManagementClient) *apb.Node {
	t.Helper()
	var node *apb.Node
	eventually.Pass(t, bootTimeout, "the node UP", func(ctx context.Context) (err error) {
		node, err = upNodeErr(ctx, mgmt)
		return err
	})
	return node
}

func upNodeErr(ctx context.Context, mgmt apb.ManagementClient) (*apb.Node, error) {
	nodes, err := listNodes(ctx, mgmt)
	if err != nil {
		return nil, err
	}
	if len(nodes) != 1 {
		return nil, fmt.Errorf("%d nodes, want 1", len(nodes))
	}
	if n := nodes[0]; n.State != apb.NodeState_NODE_STATE_UP || n.Health != apb.NodeHealth_NODE_HEALTH_HEALTHY {
		return nil, fmt.Errorf("node %s is %v/%v", n.Id, n.State, n.Health)
	}
	return nodes[0], nil
}

// listNodes reads the whole node list, bounded in time.
func listNodes(ctx context.Context, mgmt apb.ManagementClient) ([]*apb.Node, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return grow.ListNodes(ctx, mgmt)
}
