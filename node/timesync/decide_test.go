package timesync

import (
	"strings"
	"testing"
	"time"
)

func TestBest(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		samples []Sample
		want    string
		ok      bool
	}{
		{"none", nil, "", false},
		{"one", []Sample{{Server: "a", RTT: 9 * ms}}, "a", true},
		{"the least delayed round trip", []Sample{{Server: "slow", RTT: 80 * ms}, {Server: "fast", RTT: 2 * ms}, {Server: "mid", RTT: 10 * ms}}, "fast", true},
		{"the server's own distance counts", []Sample{{Server: "near", RTT: 10 * ms, RootDistance: 100 * ms}, {Server: "far", RTT: 20 * ms, RootDistance: ms}}, "far", true},
		{"a tie goes to the lower stratum", []Sample{{Server: "s3", RTT: ms, Stratum: 3}, {Server: "s2", RTT: ms, Stratum: 2}}, "s2", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Best(tc.samples)
			if ok != tc.ok || got.Server != tc.want {
				t.Errorf("Best = %q, %v; want %q, %v", got.Server, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name    string
		offset  time.Duration
		synced  bool
		want    Adjustment
		warning bool
	}{
		{"in step at boot: slew", 30 * time.Millisecond, false, Slew, false},
		{"at boot beyond the threshold: step", 2 * time.Second, false, Step, false},
		{"at boot behind beyond the threshold: step", -5 * time.Minute, false, Step, true},
		{"synced, a second off: slew", time.Second, true, Slew, false},
		{"synced, just within far off: slew", FarOff, true, Slew, false},
		{"synced, far off: step again, loudly", -FarOff - time.Millisecond, true, Step, true},
		{"exactly the threshold at boot: slew", StepThreshold, false, Slew, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Decide(Sample{Server: "10.0.0.1:123", Offset: tc.offset}, tc.synced)
			if a.Adjust != tc.want || a.Offset != tc.offset || (a.Warning != "") != tc.warning {
				t.Errorf("Decide(%v, synced %v) = %v by %v, warning %q; want %v, warning %v", tc.offset, tc.synced, a.Adjust, a.Offset, a.Warning, tc.want, tc.warning)
			}
			if tc.warning && !strings.Contains(a.Warning, "10.0.0.1:123") {
				t.Errorf("warning %q does not name the server", a.Warning)
			}
		})
	}
}
