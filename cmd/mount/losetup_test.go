package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"metropolis.dev/metropolis/osbase/loopdev"
)

func TestParseLosetupArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want losetupRequest
		bad  string
	}{
		{args: []string{"-f", "/var/lib/kubelet/publish/pv/pod"}, want: losetupRequest{Attach: "/var/lib/kubelet/publish/pv/pod"}},
		{args: []string{"-d", "/dev/loop7"}, want: losetupRequest{Detach: "/dev/loop7"}},
		{args: []string{"--version"}, want: losetupRequest{Version: true}},
		{args: nil, bad: "no arguments"},
		{args: []string{"-d", "/dev/sda"}, bad: "not a loop device"},
		{args: []string{"-a"}, bad: "unsupported"},
		{args: []string{"-f", "--show", "x"}, bad: "unsupported"},
		{args: []string{"-f", "-P"}, bad: "unsupported"},
	} {
		got, err := parseLosetupArgs(tc.args)
		if tc.bad != "" {
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("losetup %q: %v, want a usage error saying %q", tc.args, err, tc.bad)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("losetup %q = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		path string
		n    int
		ok   bool
	}{{"/dev/loop0", 0, true}, {"/dev/loop12", 12, true}, {"/dev/loop", 0, false}, {"/dev/loop1x", 0, false}, {"/dev/loop-1", 0, false}} {
		if n, ok := loopNumber(tc.path); n != tc.n || ok != tc.ok {
			t.Errorf("loopNumber(%q) = %d, %t", tc.path, n, ok)
		}
	}
}

// The kubelet's two calls, as root on a real file: attach, found in sysfs, detach.
func TestLosetupAttachDetach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop devices need root")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skipf("no loop devices here: %v", err)
	}
	file := filepath.Join(t.TempDir(), "device")
	if err := os.WriteFile(file, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run("losetup", []string{"-f", file}, &out, &out); code != exitOK {
		t.Fatalf("losetup -f: exit %d: %s", code, out.String())
	}
	devs, err := loopdev.Find(file)
	if err != nil || len(devs) != 1 {
		t.Fatalf("after losetup -f, devices of the file: %v, %v", devs, err)
	}
	if code := run("losetup", []string{"-d", devs[0].Path}, &out, &out); code != exitOK {
		t.Fatalf("losetup -d: exit %d: %s", code, out.String())
	}
	if devs, err := loopdev.Find(file); err != nil || len(devs) != 0 {
		t.Fatalf("after losetup -d, devices of the file: %v, %v", devs, err)
	}
}
