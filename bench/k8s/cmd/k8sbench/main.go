// Command k8sbench measures the Kubernetes control plane on a hosted cluster of two nodes
// (node 1 bootstraps and is a controller; node 2 is a consensus member only) and prints a
// Markdown section for docs/benchmarks.md:
//
//   - idle RSS of node 1's process tree (node process with etcd and curator, and the kube
//     apiserver, controller-manager and scheduler children) after it settled; goal under 600 MB;
//   - time from granting KubernetesController to node 2 until its apiserver's /readyz says ok,
//     several times (the role is revoked in between); goal under 10 s.
//
// It needs root and built binaries:
//
//	go build -o /tmp/kb/metropolis-node ./cmd/metropolis-node && scripts/build-kube /tmp/kb/kube
//	go run ./bench/k8s/cmd/k8sbench -node-binary /tmp/kb/metropolis-node
//
// Progress goes to stderr, the report to stdout. The cluster is destroyed on exit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	clusterbench "metropolis.dev/metropolis/bench/cluster"
	k8sbench "metropolis.dev/metropolis/bench/k8s"
)

func main() {
	var o options
	flag.StringVar(&o.nodeBinary, "node-binary", "", "metropolis-node program (required)")
	flag.StringVar(&o.kube, "kube", "", "kube binary (default: next to -node-binary)")
	flag.StringVar(&o.dir, "dir", "", "metroctl configuration directory for the cluster (default: a temporary one)")
	flag.DurationVar(&o.settle, "settle", time.Minute, "how long the controller idles before its memory is read")
	flag.IntVar(&o.runs, "runs", 3, "how often to measure role grant to ready")
	flag.Parse()
	if o.nodeBinary == "" || o.runs < 1 {
		fmt.Fprintln(os.Stderr, "k8sbench: -node-binary is required and -runs must be at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := run(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "k8sbench: %v\n", err)
		os.Exit(1)
	}
	fmt.Print(report)
}

type options struct {
	nodeBinary, kube, dir string
	settle                time.Duration
	runs                  int
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "k8sbench: "+format+"\n", args...)
}

func run(ctx context.Context, o options) (string, error) {
	if o.dir == "" {
		dir, err := os.MkdirTemp("", "k8sbench-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		o.dir = dir
	}
	progress("launching a 2-node hosted cluster (cleanup after a kill: METROCTL_CONFIG_DIR=%s metroctl cluster destroy --name k8sb)", o.dir)
	c, err := clusterbench.Launch(ctx, clusterbench.LaunchOptions{
		Name: "k8sb", Nodes: 2, NodeBinary: o.nodeBinary, KubeBinary: o.kube, ConfigDir: o.dir, Progress: os.Stderr,
	})
	if err != nil {
		return "", err
	}
	defer func() {
		if err := c.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "k8sbench: stop the benchmark's cluster: %v\n", err)
		}
	}()
	ids, err := nodeIDs(ctx, c)
	if err != nil {
		return "", err
	}

	progress("waiting for node 1's control plane")
	var client *k8sbench.Client
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for client == nil {
		if client, err = k8sbench.NewClient(wctx, c.Management); err != nil {
			if wctx.Err() != nil {
				return "", err
			}
			time.Sleep(time.Second)
		}
	}
	if _, err := client.WaitReady(wctx, c.Hosted.Addresses[0], true); err != nil {
		return "", err
	}
	progress("node 1 ready; idling %s before reading its memory", o.settle)
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(o.settle):
	}
	var sections [2][]k8sbench.Process
	for i := range sections {
		pid, err := c.NodePID(i + 1)
		if err != nil {
			return "", err
		}
		if sections[i], err = k8sbench.ProcessTree(pid); err != nil {
			return "", err
		}
	}

	var times []time.Duration
	for r := range o.runs {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		took, err := k8sbench.RoleToReady(rctx, c, client, ids[1], c.Hosted.Addresses[1])
		cancel()
		if err != nil {
			return "", fmt.Errorf("run %d: %w", r+1, err)
		}
		progress("run %d: role granted to apiserver ready in %.2fs", r+1, took.Seconds())
		times = append(times, took)
	}
	return format(sections, times, o), nil
}

func nodeIDs(ctx context.Context, c *clusterbench.Cluster) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	stream, err := c.Management.GetNodes(ctx, &apb.GetNodesRequest{})
	if err != nil {
		return nil, err
	}
	ids := make([]string, c.Hosted.Nodes())
	for {
		n, err := stream.Recv()
		if err != nil {
			break
		}
		if i := slices.Index(c.Hosted.Addresses, n.GetStatus().GetExternalAddress()); i >= 0 {
			ids[i] = n.Id
		}
	}
	if slices.Contains(ids, "") {
		return nil, errors.New("not every node reported its address")
	}
	return ids, nil
}

func format(trees [2][]k8sbench.Process, times []time.Duration, o options) string {
	var b strings.Builder
	mb := func(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }
	fmt.Fprintf(&b, "## Kubernetes control plane (hosted)\n\n")
	fmt.Fprintf(&b, "`go run ./bench/k8s/cmd/k8sbench -node-binary ...` on %s; settle %s.\n\n", filepath.Base(o.nodeBinary), o.settle)
	fmt.Fprintf(&b, "| node | process | RSS | PSS |\n| --- | --- | --- | --- |\n")
	for i, tree := range trees {
		var total, totalPSS int64
		for _, p := range tree {
			fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", i+1, p.Name, mb(p.RSS), mb(p.PSS))
			total += p.RSS
			totalPSS += p.PSS
		}
		role := "controller (goal: under 600 MB)"
		if i == 1 {
			role = "consensus member only, for comparison"
		}
		fmt.Fprintf(&b, "| %d | **total**, %s | **%s** | **%s** |\n", i+1, role, mb(total), mb(totalPSS))
	}
	slices.Sort(times)
	var parts []string
	for _, t := range times {
		parts = append(parts, fmt.Sprintf("%.2f s", t.Seconds()))
	}
	fmt.Fprintf(&b, "\nKubernetesController granted to node 2 → its apiserver's /readyz ok (goal: under 10 s), %d runs, sorted: %s; median %.2f s.\n",
		len(times), strings.Join(parts, ", "), times[len(times)/2].Seconds())
	return b.String()
}
