package image

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/fat32"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/build/mkimage"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/update/bundle"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// rollbackTestEnv turns on the rollback checks of TestUpdate (two more releases built and
// tried, one of them waiting out the watchdog); a few more minutes under TCG:
//
//	METROPOLIS_TEST_ROLLBACK=1 go test -run TestUpdate -v ./test/image
const rollbackTestEnv = "METROPOLIS_TEST_ROLLBACK"

// TestUpdate updates one node from release 1 to release 2 over the API, on one VM: bundles
// that are unsigned by a trusted key, truncated or changed are refused and change nothing; a
// node that loses power while it writes the other slot boots its old release;
// release 2 is installed, tried and committed, the node's data is still there and unlocks
// again after another reboot; with METROPOLIS_TEST_ROLLBACK, releases whose node program
// exits at once or that hang before it starts are tried and rolled back by themselves; and a
// UKI written to the ESP by hand does not unlock the data.
func TestUpdate(t *testing.T) {
	suite.Require(t)
	ctx := context.Background()
	release2 := buildRelease(t, "2.0.0-test", "")
	c := testenv.LaunchVMs(t, qemu.Options{
		Name: "imgupd", Nodes: 1, Image: built.ImagePath, WaitTimeout: bootTimeout,
	})
	console := c.LogPath(1)
	mgmt := c.Mgmt
	node := upNode(t, mgmt)
	addr := net.JoinHostPort(node.GetStatus().GetExternalAddress(), strconv.Itoa(int(ports.NodeManagement)))
	// The node's data: a label, kept in etcd on the data partition.
	if _, err := mgmt.UpdateNodeLabels(ctx, &apb.UpdateNodeLabelsRequest{NodeId: node.Id, Upsert: map[string]string{"data": "kept"}}); err != nil {
		t.Fatalf("label the node: %v", err)
	}
	nodeMgmt := func(t *testing.T) apb.NodeManagementClient {
		conn, err := connect.Node(ctx, c.Context, node.Id, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return apb.NewNodeManagementClient(conn)
	}
	software := func(t *testing.T) *apb.NodeSoftware {
		st, err := nodeMgmt(t).GetStatus(ctx, &apb.GetStatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return st.Software
	}
	if sw := software(t); sw.GetVersion() != release1 || sw.GetRunningSlot() != "A" || slotState(sw, "B") != apb.SlotState_SLOT_STATE_EMPTY {
		t.Fatalf("a fresh node reports %v; want release %s in slot A, B empty", sw, release1)
	}

	t.Run("refused bundles change nothing", func(t *testing.T) {
		good, err := os.ReadFile(release2.bundle)
		if err != nil {
			t.Fatal(err)
		}
		_, otherKey, _ := ed25519.GenerateKey(nil)
		var otherSigned bytes.Buffer
		if _, err := bundle.Write(&otherSigned, releaseOf(release2.res), partsOf(release2.res), otherKey); err != nil {
			t.Fatal(err)
		}
		changed := append([]byte{}, good...)
		changed[len(changed)-4096] ^= 0xff // inside the system part's hash tree
		for _, tc := range []struct {
			name, data, want string
		}{
			{"signed by another key", otherSigned.String(), "matches none of the keys this node trusts"},
			{"truncated", string(good[:len(good)/2]), "truncated"},
			{"system changed after signing", string(changed), "part system.img does not match its SHA-256"},
		} {
			_, err := upload(ctx, nodeMgmt(t), []byte(tc.data))
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v; want InvalidArgument saying %q", tc.name, err, tc.want)
			}
		}
		sw := software(t)
		if sw.GetVersion() != release1 || sw.GetRunningSlot() != "A" || slotState(sw, "A") != apb.SlotState_SLOT_STATE_COMMITTED || slotState(sw, "B") != apb.SlotState_SLOT_STATE_EMPTY {
			t.Errorf("after refused bundles the node reports %v; want release %s committed in A, B empty", sw, release1)
		}
	})

	t.Run("power lost while writing: the old slot boots", func(t *testing.T) {
		data, err := os.ReadFile(release2.bundle)
		if err != nil {
			t.Fatal(err)
		}
		before := strings.Count(readFile(t, console), "data storage unlocked")
		uploaded := make(chan error, 1)
		nm := nodeMgmt(t)
		go func() {
			_, err := upload(ctx, nm, data)
			uploaded <- err
		}()
		waitForConsole(t, console, "writing the system", 1, bootTimeout)
		if err := c.KillNode(1, false); err != nil {
			t.Fatal(err)
		}
		if err := <-uploaded; err == nil {
			t.Fatal("the upload succeeded although the node lost power while writing")
		}
		if err := c.StartNode(1); err != nil {
			t.Fatal(err)
		}
		waitForConsole(t, console, "data storage unlocked", before+1, bootTimeout)
		eventually.Pass(t, bootTimeout, "release 1 running, slot B empty", func(ctx context.Context) error {
			n, err := mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: node.Id})
			if err != nil {
				return err
			}
			sw := n.GetStatus().GetSoftware()
			if sw.GetVersion() != release1 || sw.GetRunningSlot() != "A" || slotState(sw, "B") != apb.SlotState_SLOT_STATE_EMPTY || n.Health != apb.NodeHealth_NODE_HEALTH_HEALTHY {
				return fmt.Errorf("node %s reports %v", n.Health, sw)
			}
			return nil
		})
	})

	t.Run("release 2 is installed, tried, committed, and keeps the data", func(t *testing.T) {
		data, err := os.ReadFile(release2.bundle)
		if err != nil {
			t.Fatal(err)
		}
		started := time.Now()
		res, err := upload(ctx, nodeMgmt(t), data)
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		installed := time.Since(started)
		if res.Slot != "B" || res.Installed.GetVersion() != "2.0.0-test" {
			t.Fatalf("installed %v in slot %s; want 2.0.0-test in B", res.Installed, res.Slot)
		}
		if s := slotState(software(t), "B"); s != apb.SlotState_SLOT_STATE_STAGED {
			t.Fatalf("slot B is %s after the install, want staged", s)
		}
		if _, err := nodeMgmt(t).Reboot(ctx, &apb.RebootRequest{}); err != nil {
			t.Fatalf("reboot: %v", err)
		}
		rebooted := time.Now()
		waitCommitted(t, mgmt, node.Id, "B", "2.0.0-test")
		t.Logf("bundle %d KiB installed in %s; the node committed release 2 %s after the reboot request",
			len(data)>>10, installed.Round(time.Millisecond), time.Since(rebooted).Round(time.Second))
		checkLabel(t, mgmt, node.Id)
	})

	t.Run("release 2 unlocks the data again after another reboot", func(t *testing.T) {
		before := strings.Count(readFile(t, console), "data storage unlocked")
		if _, err := nodeMgmt(t).Reboot(ctx, &apb.RebootRequest{}); err != nil {
			t.Fatalf("reboot: %v", err)
		}
		waitForConsole(t, console, "data storage unlocked", before+1, bootTimeout)
		waitCommitted(t, mgmt, node.Id, "B", "2.0.0-test")
		checkLabel(t, mgmt, node.Id)
	})

	t.Run("broken releases roll back by themselves", func(t *testing.T) {
		if os.Getenv(rollbackTestEnv) == "" {
			t.Skipf("set %s=1 to try two broken releases (a few minutes more under TCG)", rollbackTestEnv)
		}
		for _, tc := range []struct {
			name, version, program, why string
		}{
			{"node program exits at once", "3.0.0-exits", "./testdata/exitnode", "never reached the node program"},
			{"hangs before the node program", "3.0.0-hangs", "./testdata/hangnode", "never reached the node program"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				bad := buildRelease(t, tc.version, tc.program)
				data, err := os.ReadFile(bad.bundle)
				if err != nil {
					t.Fatal(err)
				}
				res, err := upload(ctx, nodeMgmt(t), data)
				if err != nil {
					t.Fatalf("update: %v", err)
				}
				if _, err := nodeMgmt(t).Reboot(ctx, &apb.RebootRequest{}); err != nil {
					t.Fatalf("reboot: %v", err)
				}
				rebooted := time.Now()
				var sw *apb.NodeSoftware
				eventually.Pass(t, 2*bootTimeout, "release "+tc.version+" rolled back", func(ctx context.Context) error {
					n, err := mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: node.Id})
					if err != nil {
						return err
					}
					sw = n.GetStatus().GetSoftware()
					if s := slotOf(sw, res.Slot); s.GetState() != apb.SlotState_SLOT_STATE_ROLLED_BACK || s.GetBuildId() != res.Installed.GetBuildId() {
						return fmt.Errorf("slot %s: %v", res.Slot, s)
					}
					return nil
				})
				t.Logf("back on release 2, %s rolled back %s after the reboot request: %s", tc.version, time.Since(rebooted).Round(time.Second), slotOf(sw, res.Slot).GetRollbackReason())
				if sw.GetVersion() != "2.0.0-test" || !strings.Contains(slotOf(sw, res.Slot).GetRollbackReason(), tc.why) {
					t.Errorf("after the rollback: %v; want release 2 running and a reason saying %q", sw, tc.why)
				}
				waitCommitted(t, mgmt, node.Id, "B", "2.0.0-test")
				checkLabel(t, mgmt, node.Id)
			})
		}
	})

	t.Run("a UKI written to the ESP by hand does not unlock the data", func(t *testing.T) {
		if err := c.KillNode(1, false); err != nil {
			t.Fatal(err)
		}
		handmade := filepath.Join(t.TempDir(), "handmade.efi")
		if err := mkimage.BuildUKI(ctx, release2.res.KernelPath, release2.res.InitramfsPath, release2.res.Cmdline+" metropolis.handmade=1", handmade); err != nil {
			t.Fatal(err)
		}
		raw := filepath.Join(t.TempDir(), "disk.img")
		if out, err := exec.Command("qemu-img", "convert", "-O", "raw", c.DiskPath(1), raw).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img convert: %v: %s", err, out)
		}
		if err := replaceOnESP(raw, layout.ESPBootPath, handmade); err != nil {
			t.Fatal(err)
		}
		if err := c.SetNodeDisk(1, raw); err != nil {
			t.Fatal(err)
		}
		if err := c.StartNode(1); err != nil {
			t.Fatal(err)
		}
		waitForConsole(t, console, "booted other firmware or another system", 1, bootTimeout)
		if err := c.KillNode(1, true); err != nil {
			t.Fatal(err)
		}
	})
}

// release is a release built for TestUpdate: its image build and its signed bundle.
type release struct {
	res    *mkimage.Result
	bundle string
}

// buildRelease builds a release of version with the test's signing key; program, if set, is
// the package of its node program instead of the real one.
func buildRelease(t *testing.T, version, program string) release {
	t.Helper()
	out := t.TempDir()
	o := mkimage.Options{
		OutDir: out, Version: version, ReleaseKeys: [][]byte{releaseKey},
		BundlePath: filepath.Join(out, "bundle"), SigningKey: signingKey,
	}
	if program != "" {
		bin, err := suite.GoBuild(program)
		if err != nil {
			t.Fatal(err)
		}
		o.NodeBinary = bin
	}
	res, err := suite.Image(o)
	if err != nil {
		t.Fatal(err)
	}
	return release{res: res, bundle: o.BundlePath}
}

func releaseOf(r *mkimage.Result) bundle.Release {
	return bundle.Release{Version: r.Version, KernelVersion: r.KernelVersion, SystemVerity: r.Verity.String(),
		UKIAuthenticode: r.Measurements.UkiAuthenticodeSha256, KernelAuthenticode: r.Measurements.KernelAuthenticodeSha256}
}

func partsOf(r *mkimage.Result) []bundle.File {
	return []bundle.File{{Name: bundle.PartUKI, Path: r.UKIPath}, {Name: bundle.PartSystem, Path: r.SystemImagePath}}
}

// upload sends a bundle through UpdateNode in 1 MiB chunks.
func upload(ctx context.Context, nm apb.NodeManagementClient, data []byte) (*apb.UpdateNodeResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	stream, err := nm.UpdateNode(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&apb.UpdateNodeRequest{Part: &apb.UpdateNodeRequest_Metadata{Metadata: &apb.UpdateNodeMetadata{Size: int64(len(data))}}}); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	for off := 0; off < len(data); off += 1 << 20 {
		chunk := data[off:min(off+1<<20, len(data))]
		if err := stream.Send(&apb.UpdateNodeRequest{Part: &apb.UpdateNodeRequest_Chunk{Chunk: chunk}}); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}

// waitCommitted waits until the node reports release version committed and running in slot.
func waitCommitted(t *testing.T, mgmt apb.ManagementClient, id, slot, version string) {
	t.Helper()
	eventually.Pass(t, 2*bootTimeout, fmt.Sprintf("release %s committed in slot %s", version, slot), func(ctx context.Context) error {
		n, err := mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
		if err != nil {
			return err
		}
		sw := n.GetStatus().GetSoftware()
		if sw.GetVersion() != version || sw.GetRunningSlot() != slot || slotState(sw, slot) != apb.SlotState_SLOT_STATE_COMMITTED {
			return fmt.Errorf("node reports %v", sw)
		}
		if n.State != apb.NodeState_NODE_STATE_UP {
			return fmt.Errorf("node is %s", n.State)
		}
		return nil
	})
}

func checkLabel(t *testing.T, mgmt apb.ManagementClient, id string) {
	t.Helper()
	n, err := mgmt.GetNode(context.Background(), &apb.GetNodeRequest{NodeId: id})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels["data"] != "kept" {
		t.Errorf("the node's label is gone: %v", n.Labels)
	}
}

func slotOf(sw *apb.NodeSoftware, name string) *apb.Slot {
	for _, s := range sw.GetSlots() {
		if s.GetName() == name {
			return s
		}
	}
	return nil
}

func slotState(sw *apb.NodeSoftware, name string) apb.SlotState { return slotOf(sw, name).GetState() }

func readFile(t *testing.T, p string) string {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// replaceOnESP writes the file src to path on the ESP of the raw disk image disk.
func replaceOnESP(disk, path, src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fs, err := fat32.Read(file.New(f, false), layout.ESPSize, built.Partitions.ESPOffset, layout.SectorSize)
	if err != nil {
		return fmt.Errorf("ESP: %w", err)
	}
	w, err := fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("ESP %s: %w", path, err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("ESP %s: %w", path, err)
	}
	return w.Close()
}
