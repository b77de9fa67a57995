// Command clusterbench runs the cluster-core benchmarks of package bench/cluster (launch
// time, idle memory, curator heartbeat load, approval to UP) against hosted clusters and
// prints the results as a Markdown section for docs/benchmarks.md. It needs root (network
// namespaces) and a built node program:
//
//	go build -o /tmp/benchbin/metropolis-node ./cmd/metropolis-node
//	go run ./bench/cluster/cmd/clusterbench -node-binary /tmp/benchbin/metropolis-node
//
// Progress goes to stderr, the report to stdout. Every cluster it starts is destroyed before
// it exits, also on failure, on timeout (-timeout) and on SIGINT/SIGTERM; a run killed
// outright leaves clusters that the command it prints at start removes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	clusterbench "metropolis.dev/metropolis/bench/cluster"
)

// Cluster names: short (launch/netns allows 8 characters) and distinct from what tests and
// people launch.
const (
	loadCluster     = "cbload"
	approvalCluster = "cbappr"
)

type options struct {
	nodeBinary   string
	dir          string
	scenarios    []string
	launchRuns   int
	settle       time.Duration
	load         clusterbench.LoadOptions
	approvals    int
	timeout      time.Duration
	cpuProfile   string
	approvalPoll time.Duration
	jitter       time.Duration
	keepLogs     bool
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "clusterbench: %v\n", err)
		os.Exit(2)
	}
	report, err := run(o)
	if report != nil {
		report.WriteMarkdown(os.Stdout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "clusterbench: %v\n", err)
		os.Exit(1)
	}
}

var allScenarios = []string{"launch", "idle", "load", "approval"}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("clusterbench", flag.ContinueOnError)
	o := &options{}
	var scenarios, steps string
	fs.StringVar(&o.nodeBinary, "node-binary", "", "the metropolis-node program (required)")
	fs.StringVar(&o.dir, "dir", "", "working directory: metroctl configuration and cluster state (default: a new temporary directory, removed at the end)")
	fs.StringVar(&scenarios, "scenarios", strings.Join(allScenarios, ","), "which scenarios to run, comma-separated")
	fs.IntVar(&o.launchRuns, "launch-runs", 3, "launch: how many times to launch the 3-node cluster (the last one stays for idle and load)")
	fs.DurationVar(&o.settle, "settle", 30*time.Second, "idle, load: how long the cluster runs untouched before its memory is read or the load starts")
	fs.StringVar(&steps, "steps", "500,1000,2000,5000", "load: simulated node counts to measure at, ascending")
	fs.DurationVar(&o.load.Interval, "interval", 5*time.Second, "load: heartbeat interval of each simulated node")
	fs.DurationVar(&o.load.Window, "window", 30*time.Second, "load: measuring time per step")
	fs.DurationVar(&o.load.P99Goal, "p99-goal", clusterbench.DefaultGoals.HeartbeatP99, "load: stop after the first step whose p99 round trip exceeds this")
	fs.IntVar(&o.load.EnrolWorkers, "enrol-workers", 16, "load: simulated nodes enrolled at the same time")
	fs.IntVar(&o.approvals, "approvals", 10, "approval: how many nodes to register and approve")
	fs.DurationVar(&o.approvalPoll, "approval-poll", 10*time.Millisecond, "approval: how often to ask whether the node is UP")
	fs.DurationVar(&o.jitter, "approval-jitter", time.Second, "approval: approve each node after a random wait of up to this once it is NEW (the node asks once a second)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up (and clean up) after this long")
	fs.BoolVar(&o.keepLogs, "keep-logs", false, "save every node's console log in DIR/logs also when nothing failed (needs -dir to outlive the run)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write this process's CPU profile (the simulated nodes' side) to this file")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.nodeBinary == "" {
		return nil, errors.New("-node-binary: required (go build -o /tmp/benchbin/metropolis-node ./cmd/metropolis-node)")
	}
	for _, s := range strings.Split(scenarios, ",") {
		if !slices.Contains(allScenarios, s) {
			return nil, fmt.Errorf("-scenarios: unknown scenario %q (known: %s)", s, strings.Join(allScenarios, ", "))
		}
		o.scenarios = append(o.scenarios, s)
	}
	for _, s := range strings.Split(steps, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || (len(o.load.Steps) > 0 && n <= o.load.Steps[len(o.load.Steps)-1]) {
			return nil, fmt.Errorf("-steps: %q is not an ascending list of positive numbers", steps)
		}
		o.load.Steps = append(o.load.Steps, n)
	}
	if o.launchRuns < 1 || o.approvals < 1 || o.load.EnrolWorkers < 1 {
		return nil, errors.New("-launch-runs, -approvals and -enrol-workers: need at least 1")
	}
	o.load.Log = os.Stderr
	return o, nil
}

func (o *options) has(scenario string) bool { return slices.Contains(o.scenarios, scenario) }

// run runs the chosen scenarios one after another (they share two cores with the clusters
// they measure) and returns what they measured, also when one of them failed.
func run(o *options) (*clusterbench.Report, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	dir := o.dir
	var errs []error
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "clusterbench-"); err != nil {
			return nil, err
		}
		defer func() {
			if len(errs) == 0 {
				os.RemoveAll(dir)
			}
		}()
	}
	if err := clusterbench.RaiseFileLimit(clusterbench.FilesForLoad(o.load.Steps[len(o.load.Steps)-1], o.load.EnrolWorkers)); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "clusterbench: working in %s; should this process be killed, remove its clusters with\n"+
		"  METROCTL_CONFIG_DIR=%s metroctl cluster destroy --name %s (and --name %s)\n", dir, dir, loadCluster, approvalCluster)

	report := &clusterbench.Report{
		Date:    time.Now(),
		Command: "go run ./bench/cluster/cmd/clusterbench " + strings.Join(os.Args[1:], " "),
		Goals:   clusterbench.DefaultGoals,
		Settle:  o.settle,
	}
	fail := func(err error) {
		errs = append(errs, err)
		report.Errors = append(report.Errors, err.Error())
		fmt.Fprintf(os.Stderr, "clusterbench: %v\n(node logs kept in %s)\n", err, filepath.Join(dir, "logs"))
	}
	if o.has("launch") || o.has("idle") || o.has("load") {
		if err := runThreeNodeScenarios(ctx, o, dir, report); err != nil {
			fail(err)
		}
	}
	if o.has("approval") {
		if err := runApproval(ctx, o, dir, report); err != nil {
			fail(err)
		}
	}
	return report, errors.Join(errs...)
}

// runThreeNodeScenarios launches the 3-node cluster (launchRuns times if launch is measured),
// then measures the last one idle and under load, and destroys it.
func runThreeNodeScenarios(ctx context.Context, o *options, dir string, report *clusterbench.Report) (err error) {
	runs := 1
	if o.has("launch") {
		runs = o.launchRuns
	}
	var c *clusterbench.Cluster
	defer func() {
		if c != nil {
			err = errors.Join(err, closeCluster(c, dir, err, o.keepLogs))
		}
	}()
	for r := 1; r <= runs; r++ {
		if c != nil {
			if err := c.Close(); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "launching 3-node cluster %s (%d of %d)\n", loadCluster, r, runs)
		if c, err = launch(ctx, o, dir, loadCluster, 3); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "launched in %.2f s\n", c.LaunchTime.Seconds())
		if o.has("launch") {
			report.Launches = append(report.Launches, c.LaunchTime)
		}
	}
	if o.has("idle") {
		fmt.Fprintf(os.Stderr, "letting the cluster settle for %s\n", o.settle)
		if report.Idle, err = clusterbench.MeasureIdle(ctx, c, o.settle); err != nil {
			return fmt.Errorf("idle: %w", err)
		}
	}
	if o.has("load") {
		if !o.has("idle") {
			// A just-launched cluster may still promote its third etcd member and move its
			// curator leader; simulated nodes talk to the leader found at the start.
			fmt.Fprintf(os.Stderr, "letting the cluster settle for %s\n", o.settle)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(o.settle):
			}
		}
		if report.Load, err = clusterbench.RunCuratorLoad(ctx, c, o.load); err != nil {
			return err
		}
	}
	return nil
}

// runApproval launches a 4-node cluster and approves fresh nodes in its fourth node's place.
func runApproval(ctx context.Context, o *options, dir string, report *clusterbench.Report) (err error) {
	fmt.Fprintf(os.Stderr, "launching 4-node cluster %s\n", approvalCluster)
	c, err := launch(ctx, o, dir, approvalCluster, 4)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeCluster(c, dir, err, o.keepLogs)) }()
	report.Approvals, err = clusterbench.MeasureApproval(ctx, c, clusterbench.ApprovalOptions{
		Iterations: o.approvals, NodeBinary: o.nodeBinary, WorkDir: filepath.Join(dir, "approval"),
		Poll: o.approvalPoll, Jitter: o.jitter, Log: os.Stderr,
	})
	return err
}

func launch(ctx context.Context, o *options, dir, name string, nodes int) (*clusterbench.Cluster, error) {
	return clusterbench.Launch(ctx, clusterbench.LaunchOptions{
		Name: name, Nodes: nodes, NodeBinary: o.nodeBinary, ConfigDir: dir, Progress: os.Stderr,
	})
}

// closeCluster destroys c, first saving its nodes' logs under dir if a scenario on it failed
// or keepLogs asks for them.
func closeCluster(c *clusterbench.Cluster, dir string, failure error, keepLogs bool) error {
	var errs []error
	if failure != nil || keepLogs {
		errs = append(errs, c.SaveLogs(filepath.Join(dir, "logs")))
	}
	return errors.Join(append(errs, c.Close())...)
}
