// Command updatebench measures node updates (docs/update.md) on one QEMU VM (TCG without
// /dev/kvm): the bundle's size, and the phases of an update of a running node: upload and
// write (streamed together), the node's checks after the last byte (read-back through
// dm-verity, UKI, resealing, the trial entry), the reboot until the node is UP on the new
// release, until it committed it; and for a release that fails its trial (its node program
// exits at once), the time from the reboot until the node is back UP on the old release with
// the rollback reported. It prints a Markdown section for docs/benchmarks.md. Needs root:
//
//	go run ./bench/update/cmd/updatebench [-kube out/bin/kube -runtime out/runtime]
//
// Progress goes to stderr, the report to stdout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/build/mkimage"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/update/bundle"
)

// clusterName is short (launch/netns allows 8 characters) and distinct from what tests use.
const clusterName = "updbench"

// waitLimit bounds each wait for the node.
const waitLimit = 20 * time.Minute

func main() {
	kube := flag.String("kube", "", "Kubernetes multicall binary to include (scripts/build-kube)")
	runtime := flag.String("runtime", "", "worker runtime to include, with -kube (scripts/build-runtime)")
	flag.Parse()
	if err := run(*kube, *runtime); err != nil {
		fmt.Fprintf(os.Stderr, "updatebench: %v\n", err)
		os.Exit(1)
	}
}

type phases struct {
	sent, installed, up, committed time.Duration
}

func run(kube, runtime string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "updatebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	priv, pub, err := bundle.GenerateKey()
	if err != nil {
		return err
	}
	build := func(name, version, nodeBinary string) (*mkimage.Result, string, error) {
		out := filepath.Join(dir, name)
		o := mkimage.Options{OutDir: out, Version: version, KubeBinary: kube, RuntimeDir: runtime, NodeBinary: nodeBinary,
			ReleaseKeys: [][]byte{pub}, BundlePath: filepath.Join(out, "bundle"), SigningKey: priv, Progress: io.Discard}
		fmt.Fprintf(os.Stderr, "updatebench: building release %s\n", version)
		res, err := mkimage.Build(ctx, o)
		return res, o.BundlePath, err
	}
	r1, _, err := build("r1", "bench-1", "")
	if err != nil {
		return err
	}
	_, b2, err := build("r2", "bench-2", "")
	if err != nil {
		return err
	}
	exitNode := filepath.Join(dir, "exitnode")
	if out, err := exec.Command("go", "build", "-o", exitNode, "./test/image/testdata/exitnode").CombinedOutput(); err != nil {
		return fmt.Errorf("build the broken node program: %v: %s", err, out)
	}
	_, b3, err := build("r3", "bench-broken", exitNode)
	if err != nil {
		return err
	}

	store := config.NewStore(filepath.Join(dir, "metroctl"))
	c, err := qemu.Launch(ctx, qemu.Options{Name: clusterName, Nodes: 1, Image: r1.ImagePath, Dir: filepath.Join(dir, "cluster"), Contexts: store, Progress: os.Stderr})
	if c != nil {
		defer func() {
			if err := c.Destroy(); err != nil {
				fmt.Fprintf(os.Stderr, "updatebench: destroy the benchmark's cluster: %v\n", err)
			}
		}()
	}
	if err != nil {
		return err
	}
	mc, err := store.LoadContext(clusterName)
	if err != nil {
		return err
	}
	conn, err := connect.Cluster(ctx, mc)
	if err != nil {
		return err
	}
	defer conn.Close()
	mgmt := apb.NewManagementClient(conn)
	node, err := onlyNode(ctx, mgmt)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(node.GetStatus().GetExternalAddress(), strconv.Itoa(int(ports.NodeManagement)))
	nodeMgmt := func() (apb.NodeManagementClient, func(), error) {
		nc, err := connect.Node(ctx, mc, node.Id, addr)
		if err != nil {
			return nil, nil, err
		}
		return apb.NewNodeManagementClient(nc), func() { nc.Close() }, nil
	}

	good, err := update(ctx, nodeMgmt, mgmt, node.Id, b2, "bench-2", apb.SlotState_SLOT_STATE_COMMITTED)
	if err != nil {
		return fmt.Errorf("release 2: %w", err)
	}
	bad, err := update(ctx, nodeMgmt, mgmt, node.Id, b3, "bench-broken", apb.SlotState_SLOT_STATE_ROLLED_BACK)
	if err != nil {
		return fmt.Errorf("broken release: %w", err)
	}
	b2size, b3size := fileSize(b2), fileSize(b3)

	fmt.Printf("## Node updates (`go run ./bench/update/cmd/updatebench%s`)\n\n", map[bool]string{true: " -kube out/bin/kube -runtime out/runtime", false: ""}[kube != ""])
	fmt.Printf("One VM, QEMU accelerator %s; Kubernetes and worker runtime included: %v.\n\n", accel(), kube != "")
	fmt.Println("| measure | value |")
	fmt.Println("| --- | --- |")
	fmt.Printf("| bundle size (UKI %.1f MiB, system %.1f MiB) | %.1f MiB |\n", mib(r1.UKISize), mib(r1.SystemSize), mib(b2size))
	fmt.Printf("| upload and write to the other slot (streamed together) | %.1f s |\n", good.sent.Seconds())
	fmt.Printf("| after the last byte: read-back through dm-verity, UKI to the ESP, reseal, trial entry | %.1f s |\n", (good.installed - good.sent).Seconds())
	fmt.Printf("| reboot request to UP on the new release | %.1f s |\n", good.up.Seconds())
	fmt.Printf("| reboot request to the new release committed | %.1f s |\n", good.committed.Seconds())
	fmt.Printf("| failed trial (node program exits at once), bundle %.1f MiB: reboot request to UP on the old release, rollback reported | %.1f s |\n", mib(b3size), bad.committed.Seconds())
	return nil
}

// update installs the bundle at path on the node, reboots it and waits until the node
// reports the bundle's slot in state want, timing each phase.
func update(ctx context.Context, nodeMgmt func() (apb.NodeManagementClient, func(), error), mgmt apb.ManagementClient, id, path, version string, want apb.SlotState) (phases, error) {
	var p phases
	data, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	nm, done, err := nodeMgmt()
	if err != nil {
		return p, err
	}
	defer done()
	fmt.Fprintf(os.Stderr, "updatebench: uploading %s (%.1f MiB)\n", version, mib(int64(len(data))))
	start := time.Now()
	stream, err := nm.UpdateNode(ctx)
	if err != nil {
		return p, err
	}
	if err := stream.Send(&apb.UpdateNodeRequest{Part: &apb.UpdateNodeRequest_Metadata{Metadata: &apb.UpdateNodeMetadata{Size: int64(len(data))}}}); err != nil {
		return p, err
	}
	for off := 0; off < len(data); off += 1 << 20 {
		if err := stream.Send(&apb.UpdateNodeRequest{Part: &apb.UpdateNodeRequest_Chunk{Chunk: data[off:min(off+1<<20, len(data))]}}); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return p, err
		}
	}
	p.sent = time.Since(start)
	res, err := stream.CloseAndRecv()
	if err != nil {
		return p, err
	}
	p.installed = time.Since(start)
	fmt.Fprintf(os.Stderr, "updatebench: %s staged in slot %s after %.1fs; rebooting\n", version, res.Slot, p.installed.Seconds())
	rebooted := time.Now()
	if _, err := nm.Reboot(ctx, &apb.RebootRequest{}); err != nil {
		return p, err
	}
	for time.Since(rebooted) < waitLimit {
		time.Sleep(time.Second)
		attempt, cancel := context.WithTimeout(ctx, 10*time.Second)
		n, err := mgmt.GetNode(attempt, &apb.GetNodeRequest{NodeId: id})
		cancel()
		if err != nil {
			continue
		}
		sw := n.GetStatus().GetSoftware()
		if p.up == 0 && n.GetHealth() == apb.NodeHealth_NODE_HEALTH_HEALTHY && sw.GetVersion() == version && sw.GetRunningSlot() == res.Slot {
			p.up = time.Since(rebooted)
		}
		for _, s := range sw.GetSlots() {
			if s.GetName() == res.Slot && s.GetBuildId() == res.Installed.GetBuildId() && s.GetState() == want && n.GetHealth() == apb.NodeHealth_NODE_HEALTH_HEALTHY {
				p.committed = time.Since(rebooted)
				fmt.Fprintf(os.Stderr, "updatebench: %s %s after %.1fs\n", version, want, p.committed.Seconds())
				return p, nil
			}
		}
	}
	return p, fmt.Errorf("%s not %s within %s", version, want, waitLimit)
}

func onlyNode(ctx context.Context, mgmt apb.ManagementClient) (*apb.Node, error) {
	stream, err := mgmt.GetNodes(ctx, &apb.GetNodesRequest{})
	if err != nil {
		return nil, err
	}
	n, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	return n, nil
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func accel() string {
	if a := qemu.HostAccel(); !a.KVM {
		return "TCG (" + a.Reason + ")"
	}
	return "KVM"
}
