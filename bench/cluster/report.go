package clusterbench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Goals are the figures the cluster core is held to on the build machine (2 cores).
type Goals struct {
	Launch       time.Duration // `cluster launch --hosted --nodes 3` until all UP
	ApprovalToUP time.Duration // ApproveNode returns until GetNode shows UP
	HeartbeatP99 time.Duration // the p99 round trip that a load step must stay under
	LoadNodes    int           // simulated nodes the curator must carry within HeartbeatP99
	IdleRSS      int64         // VmRSS of an idle consensus node, bytes
}

// DefaultGoals are the goals of the cluster-core issue.
var DefaultGoals = Goals{
	Launch:       10 * time.Second,
	ApprovalToUP: 2 * time.Second,
	HeartbeatP99: 50 * time.Millisecond,
	LoadNodes:    5000,
	IdleRSS:      100 * 1000 * 1000,
}

// Report is everything one run measured; scenarios that did not run are empty.
type Report struct {
	Date    time.Time
	Command string
	Goals   Goals

	Launches  []time.Duration
	Settle    time.Duration
	Idle      []IdleNode
	Load      []LoadStep
	Approvals []time.Duration
	// Errors are failures of scenarios, which the report shows rather than hides.
	Errors []string
}

// WriteMarkdown writes the report as a section of docs/benchmarks.md.
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "## Cluster core (hosted)\n\n`%s` (%s)\n\n", r.Command, r.Date.Format(time.DateOnly))
	fmt.Fprintf(w, "| benchmark | goal | result | verdict |\n| --- | --- | --- | --- |\n")
	if len(r.Launches) > 0 {
		worst := slices.Max(r.Launches)
		fmt.Fprintf(w, "| launch of 3 hosted nodes until all UP (worst of %d) | under %s | %s | %s |\n",
			len(r.Launches), r.Goals.Launch, seconds(worst), underGoal(worst, r.Goals.Launch))
	}
	if len(r.Approvals) > 0 {
		s := Summarize(r.Approvals)
		fmt.Fprintf(w, "| approval to UP (worst of %d) | under %s | %s (p50 %s) | %s |\n",
			s.Count, r.Goals.ApprovalToUP, seconds(s.Max), seconds(s.P50), underGoal(s.Max, r.Goals.ApprovalToUP))
	}
	if len(r.Load) > 0 {
		carried := CarriedNodes(r.Load, r.Goals.HeartbeatP99)
		fmt.Fprintf(w, "| simulated nodes beating every 5 s with p99 under %s | %d | %d | %s |\n",
			ms(r.Goals.HeartbeatP99), r.Goals.LoadNodes, carried, atLeastGoal(carried, r.Goals.LoadNodes))
	}
	if len(r.Idle) > 0 {
		worst := slices.MaxFunc(r.Idle, func(a, b IdleNode) int { return int(a.RSS - b.RSS) })
		fmt.Fprintf(w, "| VmRSS of an idle consensus node (largest of %d, after %s) | under %s | %s | %s |\n",
			len(r.Idle), r.Settle, megabytes(r.Goals.IdleRSS), megabytes(worst.RSS), underGoal(worst.RSS, r.Goals.IdleRSS))
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "\nFailed: %s\n", e)
	}
	r.writeDetails(w)
}

func (r *Report) writeDetails(w io.Writer) {
	if len(r.Launches) > 0 {
		runs := make([]string, len(r.Launches))
		for i, d := range r.Launches {
			runs[i] = seconds(d)
		}
		fmt.Fprintf(w, "\nLaunch runs: %s.\n", strings.Join(runs, ", "))
	}
	if len(r.Approvals) > 0 {
		runs := make([]string, len(r.Approvals))
		for i, d := range r.Approvals {
			runs[i] = seconds(d)
		}
		fmt.Fprintf(w, "\nApproval to UP, each node: %s.\n", strings.Join(runs, ", "))
	}
	if len(r.Idle) > 0 {
		fmt.Fprintf(w, "\n| node | curator | VmRSS | CPU over %s (of one core) |\n| --- | --- | --- | --- |\n", r.Settle)
		for _, n := range r.Idle {
			role := "follower"
			if n.Leader {
				role = "leader"
			}
			fmt.Fprintf(w, "| %d | %s | %s | %.1f%% |\n", n.Index, role, megabytes(n.RSS), n.CPUPercent)
		}
	}
	if len(r.Load) > 0 {
		fmt.Fprintf(w, "\n| simulated nodes | heartbeats in window | p50 | p99 | max | failed streams | enrolled per s | leader CPU | leader VmRSS | benchmark CPU | benchmark VmRSS | host busy |\n")
		fmt.Fprintf(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for _, s := range r.Load {
			fmt.Fprintf(w, "| %d | %d | %s | %s | %s | %d | %.0f | %.0f%% | %s | %.0f%% | %s | %.0f%% |\n",
				s.Nodes, s.Heartbeats.Count, ms(s.Heartbeats.P50), ms(s.Heartbeats.P99), ms(s.Heartbeats.Max),
				s.Failures, s.EnrolRate, s.LeaderCPU, megabytes(s.LeaderRSS), s.BenchCPU, megabytes(s.BenchRSS), s.HostBusy)
		}
	}
}

// CarriedNodes is the largest step whose p99 round trip stayed under goal and whose streams
// all held, or 0.
func CarriedNodes(steps []LoadStep, goal time.Duration) int {
	carried := 0
	for _, s := range steps {
		if s.Heartbeats.Count > 0 && s.Heartbeats.P99 < goal && s.Failures == 0 {
			carried = max(carried, s.Nodes)
		}
	}
	return carried
}

// underGoal says whether got stays under goal, and by how much it misses.
func underGoal[T time.Duration | int64](got, goal T) string {
	if got < goal {
		return "met"
	}
	return fmt.Sprintf("missed by %.0f%%", 100*float64(got-goal)/float64(goal))
}

func atLeastGoal(got, goal int) string {
	if got >= goal {
		return "met"
	}
	return fmt.Sprintf("missed: %.0f%% of the goal", 100*float64(got)/float64(goal))
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// megabytes shows bytes in MB (10^6), the unit the goals are stated in.
func megabytes(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
