package kubernetes

import (
	"slices"
	"testing"
	"time"
)

func TestElectionTimings(t *testing.T) {
	for _, tc := range []struct {
		name        string
		controllers int
		latency     time.Duration
		want        leaseTimings
	}{
		{"a lone controller rides out a minute's stall", 1, time.Millisecond, leaseTimings{90 * time.Second, 60 * time.Second, 12 * time.Second}},
		{"a lone controller whatever the latency", 1, 2 * time.Second, leaseTimings{90 * time.Second, 60 * time.Second, 12 * time.Second}},
		{"unknown count (0) is treated as lone", 0, time.Millisecond, leaseTimings{90 * time.Second, 60 * time.Second, 12 * time.Second}},
		{"several, fast etcd: the floor", 3, 5 * time.Millisecond, leaseTimings{22500 * time.Millisecond, 15 * time.Second, 3 * time.Second}},
		{"several, slow etcd: scaled", 2, 150 * time.Millisecond, leaseTimings{45 * time.Second, 30 * time.Second, 6 * time.Second}},
		{"several, very slow etcd: the ceiling", 2, 5 * time.Second, leaseTimings{90 * time.Second, 60 * time.Second, 12 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := electionTimings(tc.controllers, tc.latency)
			if got != tc.want {
				t.Errorf("electionTimings(%d, %v) = %+v, want %+v", tc.controllers, tc.latency, got, tc.want)
			}
			if !(got.retry < got.renew && got.renew < got.lease) {
				t.Errorf("timings %+v do not keep retry < renew deadline < lease, which the components require", got)
			}
		})
	}
}

func TestLeaseTimingsArgs(t *testing.T) {
	got := leaseTimings{22500 * time.Millisecond, 15 * time.Second, 3 * time.Second}.args()
	want := []string{"--leader-elect=true", "--leader-elect-lease-duration=22.5s", "--leader-elect-renew-deadline=15s", "--leader-elect-retry-period=3s"}
	if !slices.Equal(got, want) {
		t.Errorf("args = %q, want %q", got, want)
	}
}
