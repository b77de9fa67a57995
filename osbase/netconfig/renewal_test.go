package netconfig

import (
	"testing"
	"time"
)

func TestNextRenewalStep(t *testing.T) {
	granted := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l := &lease{duration: time.Hour, renewAfter: 30 * time.Minute, rebindTime: 52*time.Minute + 30*time.Second}
	at := func(d time.Duration) time.Time { return granted.Add(d) }
	for _, tc := range []struct {
		name      string
		now       time.Duration
		attempted bool
		want      renewalStep
	}{
		{"fresh lease waits for T1", 0, false, renewalStep{actWait, at(30 * time.Minute)}},
		{"at T1 the granting server is asked", 30 * time.Minute, false, renewalStep{actRenew, at(30 * time.Minute)}},
		{"a retry before T2 asks the granting server again", 40 * time.Minute, true, renewalStep{actRenew, at(40 * time.Minute)}},
		{"past T2 any server is asked", 53 * time.Minute, true, renewalStep{actRebind, at(53 * time.Minute)}},
		{"at expiry the lease is given up", time.Hour, true, renewalStep{actGiveUp, at(time.Hour)}},
		{"a clock jump past expiry gives it up too", 2 * time.Hour, false, renewalStep{actGiveUp, at(2 * time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextRenewalStep(at(tc.now), granted, l, tc.attempted); got != tc.want {
				t.Errorf("nextRenewalStep = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRetryAt(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		left time.Duration
		want time.Duration
	}{
		{"plenty of lease left: the longest pause", time.Hour, renewRetryInterval},
		{"little left: half of it, for more tries", 20 * time.Second, 10 * time.Second},
	} {
		if got := retryAt(now, now.Add(tc.left)).Sub(now); got != tc.want {
			t.Errorf("%s: retry after %v, want %v", tc.name, got, tc.want)
		}
	}
}
