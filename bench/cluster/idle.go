package clusterbench

import (
	"context"
	"time"
)

// IdleNode is one node process of a settled cluster.
type IdleNode struct {
	// Index is the node's number (from 1).
	Index int
	// Leader says whether its curator leads.
	Leader bool
	// RSS is its VmRSS in bytes at the end of the settling time.
	RSS int64
	// CPUPercent is its CPU (percent of one core) over the settling time.
	CPUPercent float64
}

// MeasureIdle lets the cluster run untouched for settle and then reads each node process's
// resident memory, and its CPU use over that time.
func MeasureIdle(ctx context.Context, c *Cluster, settle time.Duration) ([]IdleNode, error) {
	leader, err := c.Leader(ctx)
	if err != nil {
		return nil, err
	}
	pids := make([]int, c.Hosted.Nodes())
	before := make([]ProcessUsage, len(pids))
	for i := range pids {
		if pids[i], err = c.NodePID(i + 1); err != nil {
			return nil, err
		}
		if before[i], err = ReadProcessUsage(pids[i]); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(settle):
	}
	wall := time.Since(start)
	nodes := make([]IdleNode, len(pids))
	for i, pid := range pids {
		after, err := ReadProcessUsage(pid)
		if err != nil {
			return nil, err
		}
		nodes[i] = IdleNode{Index: i + 1, Leader: leader.Index == i+1, RSS: after.RSS, CPUPercent: CPUPercent(before[i], after, wall)}
	}
	return nodes, nil
}
