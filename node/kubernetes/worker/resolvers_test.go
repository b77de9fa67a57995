package worker

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

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

// TestResolverFollower changes, breaks and removes a resolv.conf under a running follower.
func TestResolverFollower(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	dns := &upstreamList{list: []string{"192.0.2.1:53"}}
	f := &resolverFollower{path: path, dns: dns, interval: 10 * time.Millisecond}
	if err := os.WriteFile(path, []byte("nameserver 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	supervisor.TestHarness(t, f.run)
	waitFor := func(desc string, want []string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !slices.Equal(dns.Upstreams(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: upstreams %v, want %v", desc, dns.Upstreams(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(50 * time.Millisecond)
	dns.mu.Lock()
	if dns.sets != 0 {
		t.Errorf("unchanged file: SetUpstreams called %d times, want none", dns.sets)
	}
	dns.mu.Unlock()
	if err := os.WriteFile(path, []byte("nameserver 192.0.2.2\nnameserver 2001:db8::1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("new lease", []string{"192.0.2.2:53", "[2001:db8::1]:53"})
	// A directory in the file's place cannot be read: the list stays.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	waitFor("unreadable file", []string{"192.0.2.2:53", "[2001:db8::1]:53"})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor("no file: no resolvers", nil)
}
