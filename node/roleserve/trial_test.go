package roleserve

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	clocktesting "k8s.io/utils/clock/testing"

	"metropolis.dev/metropolis/osbase/supervisor"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestDecideTrial(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	cfg := func(ntp string) *apb.NodeConfiguration { return &apb.NodeConfiguration{NtpServers: []string{ntp}} }
	trial := &apb.TrialNodeConfiguration{Version: 3, Configuration: cfg("trial.example"), Expires: timestamppb.New(now.Add(time.Minute))}
	trying := &apb.StoredNodeConfiguration{Version: 2, Configuration: cfg("stored.example"), Trial: trial}
	confirmed := &apb.StoredNodeConfiguration{Version: 3, Configuration: cfg("trial.example")}
	k := keyOf(trial)
	for _, tc := range []struct {
		name       string
		stored     *apb.StoredNodeConfiguration
		following  *trialKey
		reverted   map[trialKey]bool
		now        time.Time
		wantNTP    string
		wantTrial  bool
		wantRevert bool
	}{
		{name: "no trial", stored: confirmed, now: now, wantNTP: "trial.example"},
		{name: "a trial starts", stored: trying, now: now, wantNTP: "trial.example", wantTrial: true},
		{name: "a trial runs", stored: trying, following: &k, now: now.Add(59 * time.Second), wantNTP: "trial.example", wantTrial: true},
		{name: "a trial expires unconfirmed", stored: trying, following: &k, now: now.Add(time.Minute), wantNTP: "stored.example", wantRevert: true},
		{name: "the curator dropped the expired trial", stored: &apb.StoredNodeConfiguration{Version: 2, Configuration: cfg("stored.example")}, following: &k, now: now.Add(time.Minute), wantNTP: "stored.example", wantRevert: true},
		{name: "a trial is confirmed", stored: confirmed, following: &k, now: now.Add(10 * time.Second), wantNTP: "trial.example"},
		{name: "a reverted trial is not followed again", stored: trying, reverted: map[trialKey]bool{k: true}, now: now, wantNTP: "stored.example"},
		{name: "an expired trial seen at boot", stored: trying, now: now.Add(time.Hour), wantNTP: "stored.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decideTrial(tc.stored, tc.following, tc.reverted, tc.now)
			if got := d.configuration.GetNtpServers()[0]; got != tc.wantNTP {
				t.Errorf("follows %s, want %s", got, tc.wantNTP)
			}
			if (d.trial != nil) != tc.wantTrial || (d.revert != nil) != tc.wantRevert {
				t.Errorf("trial %v revert %v, want %v %v", d.trial != nil, d.revert != nil, tc.wantTrial, tc.wantRevert)
			}
		})
	}
}

// TestTrialRevertsUnconfirmed runs the configuration merge on a fake clock: a trial is
// followed as soon as the record holds it, and when it expires unconfirmed the node follows
// its stored configuration again, says why, and does not take the trial up again.
func TestTrialRevertsUnconfirmed(t *testing.T) {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	s := New(Config{Clock: clk, Address: net.ParseIP("192.0.2.10")})
	s.clusterConfig.Set(&apb.StoredClusterConfiguration{})
	s.nodeConfig.Set(&nodeConfigInput{stored: &apb.StoredNodeConfiguration{Version: 2, Trial: &apb.TrialNodeConfiguration{
		Version: 3, Configuration: &apb.NodeConfiguration{NtpServers: []string{"trial.example"}}, Expires: timestamppb.New(start.Add(time.Minute)),
	}}})
	supervisor.TestHarness(t, s.mergeConfiguration)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w := s.Configuration()
	defer w.Close()
	c, err := w.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.TrialVersion != 3 || c.Effective.GetNtpServers()[0] != "trial.example" {
		t.Fatalf("follows %+v, want the trial", c)
	}
	waitForSleep(t, clk)
	clk.Step(time.Minute)
	c, err = w.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.TrialVersion != 0 || c.NodeVersion != 2 || len(c.Effective.GetNtpServers()) != 0 || !strings.Contains(c.Reverted, "trial version 3 reverted at 2026-12-07T12:01:00Z") {
		t.Fatalf("after the expiry: %+v, want version 2 and the trial named as reverted", c)
	}
	// The record still holds the trial (the curator drops it on the next change): a change
	// of the cluster's configuration must not bring it back.
	s.clusterConfig.Set(&apb.StoredClusterConfiguration{Version: 1})
	c, err = w.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.TrialVersion != 0 || c.ClusterVersion != 1 {
		t.Fatalf("after a cluster change: %+v, want no trial", c)
	}
}
