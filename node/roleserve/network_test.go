package roleserve

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/event/memory"
	"metropolis.dev/metropolis/osbase/netconfig"
	"metropolis.dev/metropolis/osbase/supervisor"
)

func TestNetworkIntent(t *testing.T) {
	static := &apb.NetworkConfig{Mode: &apb.NetworkConfig_Static{Static: &apb.NetworkConfig_StaticMode{Addresses: []string{"192.0.2.20/24"}}}}
	for _, tc := range []struct {
		name     string
		c        *apb.NodeConfiguration
		wantBoot bool
		wantErr  string
	}{
		{name: "nothing configured: the boot network", c: &apb.NodeConfiguration{NtpServers: []string{"a"}}, wantBoot: true},
		{name: "only nameservers", c: &apb.NodeConfiguration{Nameservers: []string{"192.0.2.53"}}, wantBoot: true},
		{name: "only a VLAN", c: &apb.NodeConfiguration{Network: &apb.NodeNetwork{Vlans: []*apb.VlanLink{{Id: 5, Addresses: []string{"10.5.0.2/24"}}}}}, wantBoot: true},
		{name: "a static uplink", c: &apb.NodeConfiguration{Network: &apb.NodeNetwork{Uplink: static}}},
		{name: "a wrong VLAN", c: &apb.NodeConfiguration{Network: &apb.NodeNetwork{Vlans: []*apb.VlanLink{{Id: 5}}}}, wantErr: "network.vlans[0].addresses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, err := networkIntent(tc.c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if i.BootUplink != tc.wantBoot {
				t.Fatalf("got %+v, want boot uplink %v", i, tc.wantBoot)
			}
		})
	}
}

// fakeNetwork stands in for netconfig.Service: it records intents and publishes what the
// test says the link has.
type fakeNetwork struct {
	mu      sync.Mutex
	intents []*netconfig.Intent
	status  memory.Value[*netconfig.Status]
}

func (f *fakeNetwork) SetIntent(i *netconfig.Intent) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intents = append(f.intents, i)
	return uint64(len(f.intents))
}

func (f *fakeNetwork) Watch() event.Watcher[*netconfig.Status] { return f.status.Watch() }

// lastIntent is the intent given last.
func (f *fakeNetwork) lastIntent() *netconfig.Intent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.intents[len(f.intents)-1]
}

func (f *fakeNetwork) intentCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.intents)
}

// TestFollowNetwork checks that a configuration counts as applied only once the network has
// its intent, that what the network could not do is reported, and that the node's address
// follows the link's.
func TestFollowNetwork(t *testing.T) {
	nw := &fakeNetwork{}
	s := New(Config{Address: net.ParseIP("192.0.2.10"), Network: nw})
	nw.status.Set(&netconfig.Status{Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}})
	supervisor.TestHarness(t, s.followNetwork)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	s.configuration.Set(&Configuration{NodeVersion: 4, TrialVersion: 5, Effective: &apb.NodeConfiguration{Network: &apb.NodeNetwork{
		Uplink: &apb.NetworkConfig{Mode: &apb.NetworkConfig_Static{Static: &apb.NetworkConfig_StaticMode{Addresses: []string{"192.0.2.20/24"}}}},
	}}})
	for nw.intentCount() == 0 {
		if ctx.Err() != nil {
			t.Fatal("no intent given to the network")
		}
		time.Sleep(time.Millisecond)
	}
	aw := s.applied.Watch()
	defer aw.Close()
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	if a, err := aw.Get(short); err == nil {
		t.Fatalf("applied %+v before the network had it", a)
	}
	cancelShort()
	nw.status.Set(&netconfig.Status{Generation: 1, Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.20/24")}, Errors: []string{"VLAN link vlan5: no"}})
	a, err := aw.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := configurationStatus(a, time.Now())
	if st.GetTrialVersion() != 5 || len(st.GetErrors()) != 1 || st.GetErrors()[0] != "network: VLAN link vlan5: no" {
		t.Errorf("reported %v, want trial 5 and the network's error", st)
	}
	if got := s.Address(); !got.Equal(net.ParseIP("192.0.2.20")) {
		t.Errorf("address %v, want the moved 192.0.2.20", got)
	}
	if nw.lastIntent().Keep {
		t.Error("a trial's network is to be kept for the next boot")
	}

	// Confirmed, the same network is the stored configuration's: kept for the next boot.
	s.configuration.Set(&Configuration{NodeVersion: 5, Effective: &apb.NodeConfiguration{Network: &apb.NodeNetwork{
		Uplink: &apb.NetworkConfig{Mode: &apb.NetworkConfig_Static{Static: &apb.NetworkConfig_StaticMode{Addresses: []string{"192.0.2.20/24"}}}},
	}}})
	for nw.intentCount() < 2 {
		if ctx.Err() != nil {
			t.Fatal("no intent given to the network for the confirmed configuration")
		}
		time.Sleep(time.Millisecond)
	}
	if !nw.lastIntent().Keep {
		t.Error("the stored configuration's network is not kept for the next boot")
	}
}
