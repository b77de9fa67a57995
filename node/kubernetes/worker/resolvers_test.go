package worker

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
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
