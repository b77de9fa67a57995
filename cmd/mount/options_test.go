package main

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want parsedOptions
	}{
		{"", parsedOptions{}},
		{"ro", parsedOptions{Flags: unix.MS_RDONLY}},
		{"ro,rw", parsedOptions{}},
		{"rw,ro,defaults", parsedOptions{Flags: unix.MS_RDONLY}},
		{"nosuid,nodev,noexec,suid", parsedOptions{Flags: unix.MS_NODEV | unix.MS_NOEXEC}},
		{"bind,remount,ro,nosuid,nodev,noexec,noatime,relatime,nodiratime",
			parsedOptions{Flags: unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV |
				unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_NODIRATIME}},
		{"rbind", parsedOptions{Flags: unix.MS_BIND | unix.MS_REC}},
		{"sync,dirsync,strictatime,lazytime,mand,iversion,nosymfollow,silent",
			parsedOptions{Flags: unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC | unix.MS_STRICTATIME | unix.MS_LAZYTIME |
				unix.MS_MANDLOCK | unix.MS_I_VERSION | unix.MS_NOSYMFOLLOW | unix.MS_SILENT}},
		{"sync,async,atime,diratime,norelatime,nostrictatime,nolazytime,nomand,noiversion,symfollow,loud", parsedOptions{}},
		{"size=64m,mode=1777,uid=0,nr_inodes=1k", parsedOptions{Data: "size=64m,mode=1777,uid=0,nr_inodes=1k"}},
		{"rshared,private,slave,rslave,rprivate,unbindable,runbindable,shared", parsedOptions{Propagation: []uintptr{
			unix.MS_SHARED | unix.MS_REC, unix.MS_PRIVATE, unix.MS_SLAVE, unix.MS_SLAVE | unix.MS_REC,
			unix.MS_PRIVATE | unix.MS_REC, unix.MS_UNBINDABLE, unix.MS_UNBINDABLE | unix.MS_REC, unix.MS_SHARED}}},
		{"_netdev,nofail,auto,noauto,x-systemd.automount,X-foo,comment=k8s", parsedOptions{}},
		{",,size=1m,,ro,", parsedOptions{Flags: unix.MS_RDONLY, Data: "size=1m"}},
		// A flag word with a value is not the flag: it is the filesystem's to judge.
		{"ro=1", parsedOptions{Data: "ro=1"}},
		{`context="a:b:c:s0:c1,c2",ro`, parsedOptions{Flags: unix.MS_RDONLY, Data: `context="a:b:c:s0:c1,c2"`}},
	} {
		got, err := parseOptions(tc.in)
		if err != nil || got.Flags != tc.want.Flags || got.Data != tc.want.Data || !slices.Equal(got.Propagation, tc.want.Propagation) {
			t.Errorf("parseOptions(%q) = %s %v %q, %v; want %s %v %q",
				tc.in, flagString(got.Flags), got.Propagation, got.Data, err, flagString(tc.want.Flags), tc.want.Propagation, tc.want.Data)
		}
	}
}

func TestFlagString(t *testing.T) {
	for flags, want := range map[uintptr]string{
		0: "0",
		unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY: "MS_REMOUNT|MS_BIND|MS_RDONLY",
		unix.MS_SHARED | unix.MS_REC:                    "MS_REC|MS_SHARED",
		1 << 31:                                         "0x80000000",
	} {
		if got := flagString(flags); got != want {
			t.Errorf("flagString(%#x) = %q, want %q", flags, got, want)
		}
	}
}

// FuzzParseOptions checks the options parser never panics, that every data word it keeps
// was in the input, and that its errors name a word of the input.
func FuzzParseOptions(f *testing.F) {
	for _, seed := range []string{"", "ro,bind", "size=1m,mode=0750", `context="a,b",ro`, `"`, ",,", "loop=/dev/x", "x-a,X-mount.mkdir"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := parseOptions(in)
		if err != nil {
			checkUsageError(t, err, in)
			return
		}
		if p.Data == "" {
			return
		}
		words, _ := splitOptions(p.Data)
		for _, w := range words {
			if !strings.Contains(in, w) {
				t.Errorf("parseOptions(%q) made up data word %q", in, w)
			}
		}
	})
}

// FuzzMountArgs checks that no command line makes the parser or planner panic, that errors
// name a token that is in the command line, and that every plan has a call, each on the
// mount point given.
func FuzzMountArgs(f *testing.F) {
	for _, seed := range []string{
		"-t\x00tmpfs\x00-o\x00size=1m\x00tmpfs\x00/m",
		"--no-canonicalize\x00-o\x00bind,remount,ro\x00/proc/1/fd/3\x00/m",
		"--make-rshared\x00/m",
		"-o\x00remount\x00/m",
		"-t",
		"a\x00b\x00c",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		args := strings.Split(in, "\x00")
		req, err := parseMountArgs(args)
		if err != nil {
			checkUsageError(t, err, in)
			return
		}
		if req.Version || req.Help {
			return
		}
		p, err := planMount(req)
		if err != nil {
			checkUsageError(t, err, in)
			return
		}
		if len(p.Calls) == 0 {
			t.Fatalf("mount %q: empty plan", args)
		}
		for _, c := range p.Calls {
			if c.Target != req.Target {
				t.Errorf("mount %q: call %v is not on the mount point %q", args, c, req.Target)
			}
		}
	})
}

func checkUsageError(t *testing.T, err error, in string) {
	t.Helper()
	var ue *usageError
	if !errors.As(err, &ue) {
		t.Fatalf("input %q: error %v is not a usage error", in, err)
	}
	if ue.Token != "" && !strings.Contains(in, ue.Token) {
		t.Errorf("input %q: error names %q, which is not in the input", in, ue.Token)
	}
	if ue.Reason == "" {
		t.Errorf("input %q: error without a reason", in)
	}
}
