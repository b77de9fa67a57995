package clusterbench

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Summary describes a set of latencies by the figures the goals are stated in.
type Summary struct {
	Count         int
	P50, P99, Max time.Duration
}

func (s Summary) String() string {
	if s.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("n=%d p50=%s p99=%s max=%s", s.Count, ms(s.P50), ms(s.P99), ms(s.Max))
}

// ms renders d in milliseconds with two decimals, the unit every table here uses.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// Summarize returns the count, median, 99th percentile and maximum of samples. Percentiles
// use the nearest-rank method: p99 is a latency that was actually measured, the smallest one
// that at least 99% of samples do not exceed. samples is not modified.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	return Summary{
		Count: len(sorted),
		P50:   nearestRank(sorted, 50),
		P99:   nearestRank(sorted, 99),
		Max:   sorted[len(sorted)-1],
	}
}

// nearestRank is the p-th percentile of sorted (ascending, not empty).
func nearestRank(sorted []time.Duration, p int) time.Duration {
	// rank = ceil(p/100 * n), counted from 1.
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

// Recorder collects latencies from many goroutines, in windows: Take returns what arrived
// since the previous Take and starts a new window.
type Recorder struct {
	mu      sync.Mutex
	samples []time.Duration
}

// Add records one latency.
func (r *Recorder) Add(d time.Duration) {
	r.mu.Lock()
	r.samples = append(r.samples, d)
	r.mu.Unlock()
}

// Take returns the latencies of the current window and starts a new one.
func (r *Recorder) Take() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	samples := r.samples
	r.samples = nil
	return samples
}
