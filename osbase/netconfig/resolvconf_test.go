package netconfig

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteResolvConf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	ns := []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")}
	if err := writeResolvConf(path, ns); err != nil {
		t.Fatalf("writeResolvConf: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Written by the Metropolis node (osbase/netconfig) from its network configuration.\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n"
	if string(got) != want {
		t.Errorf("resolv.conf is\n%s\nwant\n%s", got, want)
	}
	if err := writeResolvConf(path, nil); err != nil {
		t.Fatalf("writeResolvConf without nameservers: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(resolvConf(nil)) {
		t.Errorf("resolv.conf not replaced: %s", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only resolv.conf (temporary files left behind?)", len(entries))
	}
	if err := writeResolvConf("", ns); err != nil {
		t.Errorf("writeResolvConf with no path: %v", err)
	}
}
