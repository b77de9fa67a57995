package timesync

import (
	"testing"
	"time"
)

func TestTimeConstant(t *testing.T) {
	for _, tc := range []struct {
		poll time.Duration
		want int64
	}{
		{0, 0}, {time.Second, 0}, {16 * time.Second, 0}, {32 * time.Second, 1},
		{64 * time.Second, 2}, {100 * time.Second, 2}, {1024 * time.Second, 6}, {365 * 24 * time.Hour, 10},
	} {
		if got := timeConstant(tc.poll); got != tc.want {
			t.Errorf("timeConstant(%v) = %d, want %d", tc.poll, got, tc.want)
		}
	}
}
