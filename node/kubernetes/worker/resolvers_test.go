package worker

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/osbase/supervisor"
)

func TestParseNameservers(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		want       []string
	}{
		{"netconfig's file", "# written by the node\nnameserver 10.0.2.3\nnameserver 2001:db8::53\nsearch example.com\n",
			[]string{"10.0.2.3:53", "[2001:db8::53]:53"}},
		{"never itself", "nameserver " + DNSAddress + "\nnameserver 1.1.1.1\n", []string{"1.1.1.1:53"}},
		{"not addresses", "nameserver dns.example.com\nnameserver\nnameserver 300.1.1.1\n", nil},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseNameservers([]byte(tc.conf)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseNameservers = %q, want %q", got, tc.want)
			}
		})
	}
	if got, err := upstreamResolvers(filepath.Join(t.TempDir(), "missing")); err != nil || got != nil {
		t.Errorf("missing resolv.conf: %q, %v; want none, no error", got, err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "resolv.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := upstreamResolvers(filepath.Join(dir, "resolv.conf")); err == nil {
		t.Error("an unreadable resolv.conf (a directory) was accepted")
	}
}

func FuzzParseNameservers(f *testing.F) {
	f.Add([]byte("nameserver 10.0.2.3\nnameserver ::1\n"))
	f.Fuzz(func(t *testing.T, conf []byte) {
		for _, s := range parseNameservers(conf) {
			if _, _, err := net.SplitHostPort(s); err != nil {
				t.Errorf("%q is not host:port: %v", s, err)
			}
		}
	})
}

// upstreamList records what the follower set, as the cluster DNS would hold it.
type upstreamList struct {
	mu   sync.Mutex
	list []string
	sets int
}

func (u *upstreamList) SetUpstreams(l []string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.list, u.sets = l, u.sets+1
	return nil
}

func (u *upstreamList) Upstreams() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.list
}

// TestResolverFollower changes, breaks and removes a resolv.conf under a running follower, one
// read at a time on a fake clock: each step's outcome is checked after the follower has read
// the file and gone back to waiting, so "nothing changed" is a finding, not a guess.
func TestResolverFollower(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	dns := &upstreamList{list: []string{"192.0.2.1:53"}}
	clk := clocktesting.NewFakeClock(time.Now())
	f := &resolverFollower{path: path, dns: dns, interval: 30 * time.Second, clock: clk}
	if err := os.WriteFile(path, []byte("nameserver 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	supervisor.TestHarness(t, f.run)
	// read lets the follower read the file once: it waits for its timer, fires it, and waits
	// until it waits again.
	read := func() {
		t.Helper()
		for _, what := range []string{"the follower to wait", "the follower to read and wait again"} {
			eventually.Pass(t, 10*time.Second, what, func(context.Context) error {
				if !clk.HasWaiters() {
					return errors.New("nothing waits on the clock")
				}
				return nil
			})
			if what == "the follower to wait" {
				clk.Step(f.interval)
			}
		}
	}
	check := func(desc string, want []string, wantSets int) {
		t.Helper()
		dns.mu.Lock()
		defer dns.mu.Unlock()
		if !slices.Equal(dns.list, want) || dns.sets != wantSets {
			t.Errorf("%s: upstreams %v after %d changes, want %v after %d", desc, dns.list, dns.sets, want, wantSets)
		}
	}

	read()
	check("unchanged file", []string{"192.0.2.1:53"}, 0)
	if err := os.WriteFile(path, []byte("nameserver 192.0.2.2\nnameserver 2001:db8::1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	read()
	check("new lease", []string{"192.0.2.2:53", "[2001:db8::1]:53"}, 1)
	// A directory in the file's place cannot be read: the list stays.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	read()
	check("unreadable file", []string{"192.0.2.2:53", "[2001:db8::1]:53"}, 1)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	read()
	check("no file: no resolvers", nil, 2)
}
