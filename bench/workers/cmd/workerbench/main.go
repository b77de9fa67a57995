// Command workerbench measures Kubernetes workers on the node image under QEMU (TCG without
// /dev/kvm): it boots one controller+worker and one worker VM, and reports the time from
// granting KubernetesWorker to both Nodes Ready, the time from creating a pod (the shipped
// testhttp image) to Ready, N times, and the resident memory of an idle worker's own processes
// (node program, containerd, shims, kubelet), as the worker logs it. It prints a Markdown
// section for docs/benchmarks.md. Needs root (the VMs' bridge and taps):
//
//	go run ./bench/workers/cmd/workerbench -kube out/bin/kube -runtime out/runtime
//
// Progress goes to stderr, the report to stdout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/build/mkimage"
	"metropolis.dev/metropolis/launch/grow"
	"metropolis.dev/metropolis/launch/kubectl"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/metroctl/connect"
)

const clusterName = "wbench"

func main() {
	kube := flag.String("kube", "out/bin/kube", "Kubernetes multicall binary (scripts/build-kube)")
	runtime := flag.String("runtime", "out/runtime", "worker runtime (scripts/build-runtime)")
	pods := flag.Int("pods", 5, "pods to create one after another")
	flag.Parse()
	if err := run(*kube, *runtime, *pods); err != nil {
		fmt.Fprintf(os.Stderr, "workerbench: %v\n", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "workerbench: "+format+"\n", args...)
}

func run(kube, runtime string, pods int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "workerbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if kube, err = filepath.Abs(kube); err != nil {
		return err
	}
	img, err := mkimage.Build(ctx, mkimage.Options{OutDir: filepath.Join(dir, "image"), KubeBinary: kube, RuntimeDir: runtime})
	if err != nil {
		return err
	}
	store := config.NewStore(filepath.Join(dir, "metroctl"))
	c, err := qemu.Launch(ctx, qemu.Options{
		Name: clusterName, Nodes: 2, ConsensusMembers: 1, MemoryMiB: 3072, Image: img.ImagePath,
		Dir: filepath.Join(dir, "cluster"), Contexts: store, Progress: os.Stderr, WaitTimeout: 10 * time.Minute,
	})
	if c != nil {
		defer func() {
			if err := c.Destroy(); err != nil {
				fmt.Fprintf(os.Stderr, "workerbench: destroy the benchmark's cluster: %v\n", err)
			}
		}()
	}
	if err != nil {
		return err
	}
	mctx, err := store.LoadContext(clusterName)
	if err != nil {
		return err
	}
	conn, err := connect.Cluster(ctx, mctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	mgmt := apb.NewManagementClient(conn)
	ids, err := nodeIDs(ctx, mgmt)
	if err != nil {
		return err
	}
	yes := true
	for _, id := range ids {
		if _, err := mgmt.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: id, KubernetesWorker: &yes}); err != nil {
			return err
		}
	}
	var k *kubectl.Kubectl
	ready, err := poll(15*time.Minute, "both Nodes Ready", func() error {
		if k == nil {
			if k, err = kubectl.Owner(ctx, mgmt, kube, dir); err != nil {
				return err
			}
		}
		out, err := k.Run("", "get", "nodes", "-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		if err != nil {
			return err
		}
		if strings.Count(out, "True") != len(ids) {
			return fmt.Errorf("nodes Ready: %q", out)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var podTimes []time.Duration
	for i := 0; i < pods; i++ {
		name := fmt.Sprintf("bench-%d", i)
		manifest := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  containers:\n  - {name: t, image: metropolis.dev/testhttp:v1, imagePullPolicy: Never, args: [serve]}\n", name)
		start := time.Now()
		if _, err := k.Run(manifest, "apply", "-f", "-"); err != nil {
			return err
		}
		if _, err := k.Run("", "wait", "--for=condition=Ready", "pod/"+name, "--timeout=300s"); err != nil {
			return err
		}
		podTimes = append(podTimes, time.Since(start))
		progress("pod %s Ready in %.1fs", name, podTimes[i].Seconds())
		if _, err := k.Run("", "delete", "pod", name, "--wait=false"); err != nil {
			return err
		}
	}
	// The idle figure is the second report after the pods are gone: the worker pages out its
	// programs' executables after each report, so the second covers five idle minutes after
	// a page-out, the working set of an idle worker.
	before, _ := memoryReports(c.LogPath(2))
	var report string
	if _, err := poll(15*time.Minute, "the worker-only node's second memory report after the pods", func() error {
		reports, err := memoryReports(c.LogPath(2))
		if err != nil {
			return err
		}
		if len(reports) < len(before)+2 {
			return fmt.Errorf("%d of 2 memory reports since the pods ended", len(reports)-len(before))
		}
		report = reports[len(reports)-1]
		return nil
	}); err != nil {
		return err
	}
	sort.Slice(podTimes, func(i, j int) bool { return podTimes[i] < podTimes[j] })
	fmt.Printf("## Kubernetes workers (workerbench, TCG)\n\n| measure | figure |\n| --- | --- |\n")
	fmt.Printf("| KubernetesWorker granted → both Nodes Ready (controller's apiserver starting at the same time) | %.0f s |\n", ready.Seconds())
	fmt.Printf("| pod create → Ready (testhttp, image pinned on the node), median of %d | %.1f s (min %.1f, max %.1f) |\n",
		len(podTimes), podTimes[len(podTimes)/2].Seconds(), podTimes[0].Seconds(), podTimes[len(podTimes)-1].Seconds())
	fmt.Printf("| idle worker-only node: resident memory of its processes | %s |\n", report)
	passes, err := pageOutPasses(c.LogPath(2))
	if err != nil {
		return err
	}
	fmt.Printf("| page-out pass of the worker-only node's programs (after each 5-minute report), wall and CPU | %s |\n", passes)
	return nil
}

var pageOutLine = regexp.MustCompile(`paged out executables in (\d+) ms \(CPU (\d+) ms\)`)

// pageOutPasses lists the cost of every page-out pass in a node's console log.
func pageOutPasses(console string) (string, error) {
	data, err := os.ReadFile(console)
	if err != nil {
		return "", err
	}
	var passes []string
	for _, m := range pageOutLine.FindAllSubmatch(data, -1) {
		passes = append(passes, fmt.Sprintf("%s ms (CPU %s ms)", m[1], m[2]))
	}
	if len(passes) == 0 {
		return "", fmt.Errorf("no page-out pass in %s", console)
	}
	return strings.Join(passes, ", "), nil
}

var memoryLine = regexp.MustCompile(`resident memory of the node's processes: (\d+ MiB \([^)]*\)[^\n]*)`)

// memoryReports returns the memory reports in a node's console log, oldest first.
func memoryReports(console string) ([]string, error) {
	data, err := os.ReadFile(console)
	if err != nil {
		return nil, err
	}
	var reports []string
	for _, m := range memoryLine.FindAllSubmatch(data, -1) {
		reports = append(reports, strings.TrimSpace(string(m[1])))
	}
	return reports, nil
}

func poll(timeout time.Duration, what string, check func() error) (time.Duration, error) {
	start := time.Now()
	for {
		err := check()
		if err == nil {
			progress("%s after %.0fs", what, time.Since(start).Seconds())
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("%s: not within %v: %w", what, timeout, err)
		}
		time.Sleep(3 * time.Second)
	}
}

func nodeIDs(ctx context.Context, mgmt apb.ManagementClient) ([]string, error) {
	nodes, err := grow.ListNodes(ctx, mgmt)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, n := range nodes {
		ids = append(ids, n.Id)
	}
	sort.Strings(ids)
	return ids, nil
}
