package netconfig

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/ipconfig"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// rememberedIntent is a network a node's configuration may ask for: a moved static uplink, an
// MTU, a VLAN, a route and nameservers.
func rememberedIntent(t testing.TB) *Intent {
	t.Helper()
	s, err := ipconfig.ParseStatic(ipconfig.Text{HardwareAddress: "52:54:00:12:34:56", Addresses: []string{"192.0.2.20/24"}, Gateways: []string{"192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := ipconfig.ParseExtra(ipconfig.ExtraText{
		MTU:    1400,
		VLANs:  []ipconfig.VLANText{{ID: 7, Addresses: []string{"10.7.0.5/24"}}},
		Routes: []ipconfig.RouteText{{Destination: "198.51.100.0/24", Gateway: "192.0.2.1"}},
	}, s.Addresses)
	if err != nil {
		t.Fatal(err)
	}
	return &Intent{Static: s, Extra: *e, Nameservers: []netip.Addr{netip.MustParseAddr("192.0.2.53")}, Keep: true}
}

// firstIntent is the intent a service starts with.
func firstIntent(t *testing.T, s *Service) *Intent {
	t.Helper()
	w := s.intent.Watch()
	defer w.Close()
	g, err := w.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return g.Intent
}

// TestMemory: an intent marked Keep is written down and is the next service's first intent; a
// trial's is not; the boot network again removes the file; a memory that cannot be read or
// written is reported, and the boot parameters' network is used.
func TestMemory(t *testing.T) {
	boot, err := ipconfig.ParseStatic(ipconfig.Text{Addresses: []string{"192.0.2.10/24"}, Gateways: []string{"192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "network.json")
	config := Config{Static: boot, MemoryPath: path}

	s := New(config)
	if s.memoryErr != nil || s.remembered {
		t.Fatalf("without a file: error %v, remembered %v", s.memoryErr, s.remembered)
	}
	kept := rememberedIntent(t)
	s.SetIntent(kept)
	trial := rememberedIntent(t)
	trial.Keep = false
	trial.Extra.MTU = 1300
	s.SetIntent(trial)
	if s.memoryErr != nil {
		t.Fatal(s.memoryErr)
	}

	next := New(config)
	if next.memoryErr != nil || !next.remembered {
		t.Fatalf("after a kept intent: error %v, remembered %v", next.memoryErr, next.remembered)
	}
	if got := firstIntent(t, next); !got.Equal(kept) {
		t.Errorf("the next boot starts with %+v, want the kept intent %+v (not the trial's)", got, kept)
	}

	next.SetIntent(&Intent{BootUplink: true, Keep: true})
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the boot network kept: the file is still there (%v)", err)
	}
	if got := firstIntent(t, New(config)); !got.Equal(&Intent{Static: boot}) {
		t.Errorf("after forgetting, the first intent is %+v, want the boot parameters'", got)
	}

	if err := os.WriteFile(path, []byte(`{"static": {"Addresses": ["192.0.2.300/24"]}, "extra": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := New(config)
	if bad.memoryErr == nil || !strings.Contains(bad.memoryErr.Error(), path+": static.addresses[0]") {
		t.Errorf("a bad memory: error %v, want one naming the file and the field", bad.memoryErr)
	}
	if got := firstIntent(t, bad); !got.Equal(&Intent{Static: boot}) {
		t.Errorf("with a bad memory the first intent is %+v, want the boot parameters'", got)
	}
	if st := withMemoryError(nil, bad.memoryErr); len(st) != 1 || !strings.HasPrefix(st[0], "the remembered network was not used: ") {
		t.Errorf("status errors %q", st)
	}
	bad.SetIntent(kept)
	if bad.memoryErr != nil {
		t.Errorf("a kept intent replaces a bad memory: %v", bad.memoryErr)
	}

	unwritable := New(Config{Static: boot, MemoryPath: filepath.Join(t.TempDir(), "missing-dir", "network.json")})
	unwritable.SetIntent(kept)
	if unwritable.memoryErr == nil || !strings.HasPrefix(unwritable.memoryErr.Error(), "remembering the network for the next boot: ") {
		t.Errorf("an unwritable memory: %v", unwritable.memoryErr)
	}
}

// An intent keeping the boot uplink resolves to the same network as no intent at all, so a
// node whose configuration has no network does not set its link up a second time.
func TestBootUplinkResolvesToConfig(t *testing.T) {
	boot, err := ipconfig.ParseStatic(ipconfig.Text{Addresses: []string{"192.0.2.10/24"}, Gateways: []string{"192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Static: boot})
	none := firstIntent(t, s)
	s.SetIntent(&Intent{BootUplink: true, Keep: true})
	if kept := firstIntent(t, s); !kept.Equal(none) {
		t.Errorf("the boot uplink kept resolves to %+v, want Config's %+v", kept, none)
	}
}

func TestParseMemory(t *testing.T) {
	boot, _ := ipconfig.ParseStatic(ipconfig.Text{Addresses: []string{"192.0.2.10/24"}})
	for _, tc := range []struct {
		name, data, want string // want: a fragment of the error; empty: accepted
	}{
		{"DHCP", `{"extra": {}}`, ""},
		{"the boot uplink with a route through its gateway", `{"bootUplink": true, "extra": {"Routes": [{"Destination": "198.51.100.0/24", "Gateway": "192.0.2.1"}]}}`, ""},
		{"a route the boot uplink cannot reach", `{"bootUplink": true, "extra": {"Routes": [{"Destination": "198.51.100.0/24", "Gateway": "172.16.0.1"}]}}`, "extra.routes[0].gateway: 172.16.0.1 is in none"},
		{"a bad VLAN", `{"extra": {"VLANs": [{"ID": 5000, "Addresses": ["10.7.0.5/24"]}]}}`, "extra.vlans[0].id: 5000"},
		{"a static uplink without address", `{"static": {}, "extra": {}}`, "static.addresses: must list"},
		{"a bad nameserver", `{"extra": {}, "nameservers": ["224.0.0.1"]}`, "nameservers[0]"},
		{"a bond", `{"static": {"HardwareAddress": "52:54:00:00:00:02", "Addresses": ["192.0.2.10/24"]}, "extra": {"Bond": {"Members": ["52:54:00:00:00:01", "52:54:00:00:00:02"], "Mode": "active-backup", "MIIIntervalMS": 100}}}`, ""},
		{"a bad bond", `{"extra": {"Bond": {"Members": []}}}`, "extra.bond.members: must list"},
		{"an uplink card outside the bond", `{"static": {"HardwareAddress": "52:54:00:00:00:03", "Addresses": ["192.0.2.10/24"]}, "extra": {"Bond": {"Members": ["52:54:00:00:00:01"]}}}`, "static.hardware_address: 52:54:00:00:00:03 is not one of bond.members"},
		{"an unknown field", `{"extra": {}, "bonds": []}`, `unknown field "bonds"`},
		{"two documents", `{"extra": {}} {}`, "data after its end"},
		{"not JSON", `network`, "not a remembered network"},
		{"too large", `{"extra": {}, "nameservers": ["` + strings.Repeat("1", maxMemorySize) + `"]}`, "bytes, at most"},
	} {
		_, err := parseMemory([]byte(tc.data), boot)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// FuzzParseMemory: any file is refused with an error or read as an intent that, written down
// again, reads back the same.
func FuzzParseMemory(f *testing.F) {
	data, err := encodeMemory(rememberedIntent(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"bootUplink": true, "extra": {"MTU": 9000}}`))
	f.Add([]byte(`{"extra": {"Bond": {"Members": ["52:54:00:00:00:01", "52:54:00:00:00:02"], "Mode": "802.3ad"}}}`))
	f.Add([]byte(`{"static": {"Addresses": ["2001:db8::5/64"], "Gateways": ["2001:db8::1"]}, "extra": {}}`))
	boot, _ := ipconfig.ParseStatic(ipconfig.Text{Addresses: []string{"192.0.2.10/24"}})
	f.Fuzz(func(t *testing.T, data []byte) {
		i, err := parseMemory(data, boot)
		if err != nil {
			if len(err.Error()) > 4096 {
				t.Errorf("an error of %d bytes", len(err.Error()))
			}
			return
		}
		again, err := encodeMemory(i)
		if err != nil {
			t.Fatal(err)
		}
		j, err := parseMemory(again, boot)
		if err != nil || !j.Equal(i) {
			t.Errorf("read %+v, written %s, read back %+v, %v", i, again, j, err)
		}
	})
}

// TestRememberedNetworkInNamespace boots the network twice as a node would: the first boot
// keeps a moved address that the node's configuration asks for; the second starts with it,
// never taking the boot parameters' address, and reaches the peer from it.
func TestRememberedNetworkInNamespace(t *testing.T) {
	if !isChild() {
		n := newTestNet(t)
		n.runChild(t, envPeer+"="+n.listen(t))
		return
	}
	peer, boot, moved := childAddresses(t)
	static := func(p netip.Prefix) *ipconfig.Static { return childStatic(t, p, peer) }
	config := Config{Static: static(boot), MemoryPath: filepath.Join(t.TempDir(), "network.json")}

	first := New(config)
	stop, _ := supervisor.TestHarness(t, first.Run)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	gen := first.SetIntent(&Intent{Static: static(moved), Keep: true})
	w := first.Watch()
	if _, err := w.Get(ctx, event.Filter(func(s *Status) bool { return s.Generation == gen })); err != nil {
		t.Fatalf("first boot, waiting for the moved address: %v", err)
	}
	w.Close()
	stop()
	// The next boot finds the link as a fresh node would: without the addresses of the last.
	link, err := netlink.LinkByName(first.last.Link)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []netip.Prefix{boot, moved} {
		_ = netlink.AddrDel(link, &netlink.Addr{IPNet: ipNet(p)})
	}

	second := New(config)
	supervisor.TestHarness(t, second.Run)
	w = second.Watch()
	defer w.Close()
	st, err := w.Get(ctx, event.Filter(HasAddress))
	if err != nil {
		t.Fatalf("second boot, waiting for an address: %v", err)
	}
	if got := st.PreferredAddress(); !got.Equal(moved.Addr().AsSlice()) {
		t.Errorf("the second boot starts at %v, want the remembered %v", got, moved.Addr())
	}
	requireAddress(t, link, moved)
	requireNoAddress(t, link, boot)
	if len(st.Errors) != 0 {
		t.Errorf("errors: %v", st.Errors)
	}
	if err := helloFromPeer(); err != nil {
		t.Errorf("from the remembered address: %v", err)
	}
}
