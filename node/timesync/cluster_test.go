package timesync

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestClusterServers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		curators  []string
		self      string
		want      []string
		reference bool
	}{
		{"no curators known", nil, "10.0.0.5", nil, false},
		{"a worker follows the lowest member", []string{"10.0.0.3:7835", "10.0.0.2:7835", "10.0.0.10:7835"}, "10.0.0.7", []string{"10.0.0.2:123"}, false},
		{"a member follows the lowest member", []string{"10.0.0.3:7835", "10.0.0.2:7835"}, "10.0.0.3", []string{"10.0.0.2:123"}, false},
		{"the lowest member is the reference", []string{"10.0.0.3:7835", "10.0.0.2:7835"}, "10.0.0.2", nil, true},
		{"addresses compare as numbers, not text", []string{"10.0.0.10:7835", "10.0.0.9:7835"}, "10.0.0.1", []string{"10.0.0.9:123"}, false},
		{"entries that are not addresses are skipped", []string{"curator.example:7835", "10.0.0.4:7835"}, "10.0.0.1", []string{"10.0.0.4:123"}, false},
		{"IPv6", []string{"[fd00::2]:7835"}, "fd00::9", []string{"[fd00::2]:123"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ref := ClusterServers(tc.curators, tc.self)
			if !slices.Equal(got, tc.want) || ref != tc.reference {
				t.Errorf("ClusterServers = %v, %v; want %v, %v", got, ref, tc.want, tc.reference)
			}
		})
	}
}

func TestClusterPeers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		curators []string
		self     string
		want     []string
	}{
		{"no curators known", nil, "10.0.0.2", []string{}},
		{"the others, lowest first", []string{"10.0.0.10:7835", "10.0.0.2:7835", "10.0.0.3:7835"}, "10.0.0.2", []string{"10.0.0.3:123", "10.0.0.10:123"}},
		{"alone", []string{"10.0.0.2:7835"}, "10.0.0.2", []string{}},
		{"one address twice, one not an address", []string{"10.0.0.4:7835", "10.0.0.4:7836", "curator.example:7835"}, "10.0.0.2", []string{"10.0.0.4:123"}},
		{"IPv4 written as IPv6", []string{"[::ffff:10.0.0.4]:7835", "10.0.0.2:7835"}, "10.0.0.2", []string{"10.0.0.4:123"}},
	} {
		if got := ClusterPeers(tc.curators, tc.self); !slices.Equal(got, tc.want) {
			t.Errorf("%s: ClusterPeers = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestServedReference(t *testing.T) {
	now := time.Unix(1700000000, 0)
	synced := &Status{Synced: true, Server: "10.0.0.2:123", Stratum: LocalStratum, LastSync: now.Add(-time.Minute), RootDistance: 3 * time.Millisecond}
	for _, tc := range []struct {
		name    string
		st      *Status
		stratum uint8
		id      uint32
	}{
		{"unknown", nil, 16, 0},
		{"never synchronised: clients refuse it", &Status{Error: "no server answered"}, 16, 0},
		{"the reference serves its own clock", &Status{Reference: true}, LocalStratum, 0x4c4f434c},
		{"a follower passes its server on, one stratum further", synced, LocalStratum + 1, 0x0a000002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := ServedReference(tc.st, now)
			if ref.Stratum != tc.stratum || ref.ID != tc.id {
				t.Errorf("ServedReference = stratum %d, ID %#x; want %d, %#x", ref.Stratum, ref.ID, tc.stratum, tc.id)
			}
		})
	}
}

// TestSyncMeasuresOnly: a node sharing its machine's clock reports how far off it is and
// adjusts nothing; the reference asks no one.
func TestSyncMeasuresOnly(t *testing.T) {
	clk := &fakeClock{}
	query := func(_ context.Context, server string) (Sample, error) {
		return Sample{Server: server, Offset: 2 * time.Second}, nil
	}
	s := New(Config{Servers: func() []string { return []string{"a"} }, Clock: clk, Query: query, MeasureOnly: true, Burst: 1})
	st := s.Sync(context.Background(), &Status{})
	if len(clk.steps)+len(clk.slews) != 0 || !st.Synced || st.Adjust != Measured || st.Offset != 2*time.Second {
		t.Errorf("status %+v, steps %v, slews %v; want a measured 2s and the clock left alone", st, clk.steps, clk.slews)
	}
	if p := st.Proto(); p.GetAdjustment() != "measured" || p.GetOffset().AsDuration() != 2*time.Second {
		t.Errorf("as reported: %v", p)
	}
	ref := New(Config{Servers: func() []string { return []string{"a"} }, Clock: clk, Query: query, IsReference: func() bool { return true }})
	if st := ref.Sync(context.Background(), &Status{Synced: true}); !st.Reference || st.Synced || len(clk.steps)+len(clk.slews) != 0 {
		t.Errorf("the reference's status %+v (steps %v, slews %v); want the reference, asking no one", st, clk.steps, clk.slews)
	}
}

func TestWithPort(t *testing.T) {
	got := WithPort([]string{"ntp.example.com", "192.0.2.1", "192.0.2.2:1123", "2001:db8::1", "[2001:db8::2]:123", "[2001:db8::3]"})
	want := []string{"ntp.example.com:123", "192.0.2.1:123", "192.0.2.2:1123", "[2001:db8::1]:123", "[2001:db8::2]:123", "[2001:db8::3]:123"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
