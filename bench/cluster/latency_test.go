package clusterbench

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100, 99, ..., 1: unsorted on purpose
	}
	cases := []struct {
		name    string
		samples []time.Duration
		want    Summary
	}{
		{"no samples give an empty summary", nil, Summary{}},
		{"one sample is every percentile", ms(7), Summary{Count: 1, P50: 7 * time.Millisecond, P99: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		{"median of an odd count is the middle value", ms(3, 1, 2), Summary{Count: 3, P50: 2 * time.Millisecond, P99: 3 * time.Millisecond, Max: 3 * time.Millisecond}},
		{"p99 of 1..100 is 99, not the maximum", ms(hundred...), Summary{Count: 100, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}},
		{"a single outlier in 1000 samples stays out of p99", append(ms(make([]int, 999)...), time.Second), Summary{Count: 1000, P50: 0, P99: 0, Max: time.Second}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Summarize(c.samples); got != c.want {
				t.Errorf("Summarize = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestRecorderWindows(t *testing.T) {
	var r Recorder
	r.Add(time.Millisecond)
	if got := r.Take(); len(got) != 1 {
		t.Fatalf("first window holds %v, want the one latency added", got)
	}
	r.Add(2 * time.Millisecond)
	if got := r.Take(); len(got) != 1 || got[0] != 2*time.Millisecond {
		t.Fatalf("second window holds %v, want only what came after the first Take", got)
	}
	if got := r.Take(); len(got) != 0 {
		t.Fatalf("a window with nothing added holds %v", got)
	}
}
