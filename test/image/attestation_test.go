package image

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/build/mkimage"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/authenticode"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// TestAttestation boots a two-VM cluster that requires TPM attestation, its TPMs (swtpm) with
// EK certificates from the cluster's vendor CA: both nodes are attested, and attested again
// when each reboots (the only consensus member too); a node booting a UKI with one more
// kernel command-line flag is refused with the reason in its record, and accepted once its
// release is trusted.
func TestAttestation(t *testing.T) {
	suite.Require(t)
	if os.Getenv(clusterTestEnv) == "" {
		t.Skipf("set %s=1 to boot a two-VM cluster that requires attestation (about two minutes under TCG)", clusterTestEnv)
	}
	c := testenv.LaunchVMs(t, qemu.Options{
		Name: "imgatt", Nodes: 2, Image: built.ImagePath, WaitTimeout: 2 * bootTimeout, RequireAttestation: true,
		// Node 2 is no consensus member: it gets its storage key's cluster half only by
		// passing attestation at each boot, and the cluster keeps its quorum while node 2's
		// machine boots another disk.
		ConsensusMembers: 1,
	})
	trusted := built.Measurements.UkiAuthenticodeSha256

	t.Run("the cluster requires attestation and both nodes passed it", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		info, err := c.Mgmt.GetClusterInfo(ctx, &apb.GetClusterInfoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if p := info.GetAttestationPolicy(); !p.GetRequired() || len(p.GetEkCaCertificates()) != 2 || len(p.GetTrustedReleases()) != 1 || !bytes.Equal(p.GetTrustedReleases()[0], trusted) {
			t.Fatalf("policy %v, want required, the vendor's two certificates, the built release", p)
		}
		for i := 1; i <= 2; i++ {
			n, err := nodeAt(ctx, c.Mgmt, c.Nodes[i-1].Address)
			if err != nil {
				t.Fatal(err)
			}
			a := n.GetAttestation()
			if a.GetLastAttested() == nil || a.GetLastRefusal() != "" || !bytes.Equal(a.GetUki(), trusted) {
				t.Errorf("node %d: attestation %v, want attested with the built UKI and no refusal", i, a)
			}
		}
	})

	// Node 2 first; then node 1, the only consensus member, whose reboot takes the curator
	// away: it attests itself to its own curator when that is back.
	for _, i := range []int{2, 1} {
		t.Run(fmt.Sprintf("node %d rebooted is attested again", i), func(t *testing.T) {
			rebootAttested(t, c, i)
		})
	}

	t.Run("a node booting an untrusted UKI is refused until its release is trusted", func(t *testing.T) {
		// Node 2's machine (its TPM) gets a fresh disk whose UKI has one more flag on its
		// kernel command line: it registers as a new node.
		handmade := filepath.Join(t.TempDir(), "untrusted.efi")
		if err := mkimage.BuildUKI(context.Background(), built.KernelPath, built.InitramfsPath, built.Cmdline+" metropolis.untrusted=1", handmade); err != nil {
			t.Fatal(err)
		}
		uki, err := os.ReadFile(handmade)
		if err != nil {
			t.Fatal(err)
		}
		untrusted, err := authenticode.SHA256(uki)
		if err != nil {
			t.Fatal(err)
		}
		raw := filepath.Join(t.TempDir(), "disk.img")
		if out, err := exec.Command("cp", "--sparse=always", built.ImagePath, raw).CombinedOutput(); err != nil {
			t.Fatalf("copy the image: %v: %s", err, out)
		}
		if err := replaceOnESP(raw, layout.ESPBootPath, handmade); err != nil {
			t.Fatal(err)
		}
		old, err := nodeAt(context.Background(), c.Mgmt, c.Nodes[1].Address)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.KillNode(2, false); err != nil {
			t.Fatal(err)
		}
		if err := c.SetNodeDisk(2, raw); err != nil {
			t.Fatal(err)
		}
		if err := c.StartNode(2); err != nil {
			t.Fatal(err)
		}
		var id string
		eventually.Pass(t, 2*bootTimeout, "the untrusted boot registered as a NEW node", func(ctx context.Context) error {
			nodes, err := listNodes(ctx, c.Mgmt)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				if n.Id != old.Id && n.State == apb.NodeState_NODE_STATE_NEW {
					id = n.Id
					return nil
				}
			}
			return fmt.Errorf("no NEW node among %d", len(nodes))
		})
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		if _, err := c.Mgmt.ApproveNode(ctx, &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_NodeId{NodeId: id}}); err != nil {
			t.Fatalf("approve %s (its EK certificate is from the cluster's vendor): %v", id, err)
		}
		eventually.Pass(t, bootTimeout, "its commit refused as an untrusted release, in its record", func(ctx context.Context) error {
			n, err := c.Mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
			if err != nil {
				return err
			}
			if r := n.GetAttestation().GetLastRefusal(); !strings.Contains(r, "untrusted release") {
				return fmt.Errorf("node %s is %v, last refusal %q", id, n.State, r)
			}
			if n.State == apb.NodeState_NODE_STATE_UP {
				return fmt.Errorf("node %s is UP", id)
			}
			return nil
		})
		if _, err := c.Mgmt.TrustRelease(ctx, &apb.TrustReleaseRequest{UkiAuthenticodeSha256: untrusted}); err != nil {
			t.Fatal(err)
		}
		eventually.Pass(t, 2*bootTimeout, "the node UP once its release is trusted", func(ctx context.Context) error {
			n, err := c.Mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
			if err != nil {
				return err
			}
			if n.State != apb.NodeState_NODE_STATE_UP || !bytes.Equal(n.GetAttestation().GetUki(), untrusted) {
				return fmt.Errorf("node %s is %v, attestation %v", id, n.State, n.GetAttestation())
			}
			return nil
		})
	})
}

// rebootAttested reboots node i through its management API and waits until it is UP, healthy
// and attested after the reboot.
func rebootAttested(t *testing.T, c *testenv.VMCluster, i int) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	addr := c.Nodes[i-1].Address
	before, err := nodeAt(ctx, c.Mgmt, addr)
	if err != nil {
		t.Fatal(err)
	}
	nconn, err := connect.Node(ctx, c.Context, before.Id, net.JoinHostPort(addr, strconv.Itoa(int(ports.NodeManagement))))
	if err != nil {
		t.Fatal(err)
	}
	defer nconn.Close()
	if _, err := apb.NewNodeManagementClient(nconn).Reboot(ctx, &apb.RebootRequest{}); err != nil {
		t.Fatalf("reboot: %v", err)
	}
	was := before.GetAttestation().GetLastAttested().AsTime()
	d := eventually.Pass(t, 2*bootTimeout, fmt.Sprintf("node %d attested again after its reboot, and UP", i), func(ctx context.Context) error {
		n, err := nodeAt(ctx, c.Mgmt, addr)
		if err != nil {
			return err
		}
		if at := n.GetAttestation().GetLastAttested().AsTime(); !at.After(was) {
			return fmt.Errorf("last attested %v (before the reboot: %v); refusal %q", at, was, n.GetAttestation().GetLastRefusal())
		}
		if n.State != apb.NodeState_NODE_STATE_UP || n.Health != apb.NodeHealth_NODE_HEALTH_HEALTHY {
			return fmt.Errorf("node is %v/%v", n.State, n.Health)
		}
		return nil
	})
	t.Logf("node %d: reboot → attested again and UP: %.1fs", i, d.Seconds())
}
