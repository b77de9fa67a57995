package main

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMountRefusals checks that what this mount does not do is refused before any system
// call, as a usage error naming the argument.
func TestMountRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		// wantToken is the argument the error must name; empty for errors about the
		// command line as a whole.
		wantToken string
		wantText  string
	}{
		{"unknown flag", []string{"-r", "/a", "/b"}, "-r", "unsupported argument"},
		{"combined short flags", []string{"-ct", "tmpfs", "x", "/b"}, "-ct", "unsupported argument"},
		{"--types=", []string{"--types=tmpfs", "x", "/b"}, "--types=tmpfs", "unsupported argument"},
		{"-t without value", []string{"/b", "-t"}, "-t", "needs a value"},
		{"empty -t", []string{"-t", "", "x", "/b"}, "-t", "empty filesystem type"},
		{"two -t", []string{"-t", "tmpfs", "-t", "ext4", "x", "/b"}, "ext4", "second filesystem type"},
		{"no mount point", []string{"-t", "tmpfs"}, "", "listing mounts is not supported"},
		{"three positionals", []string{"a", "b", "c"}, "c", "extra argument"},
		{"empty mount point", []string{"x", ""}, "", "empty mount point"},
		{"no type", []string{"/dev/vdb", "/m"}, "", "no filesystem type given"},
		{"auto type", []string{"-t", "auto", "/dev/vdb", "/m"}, "", "does not probe"},
		{"type list", []string{"-t", "ext4,xfs", "/dev/vdb", "/m"}, "ext4,xfs", "type lists"},
		{"nfs", []string{"-t", "nfs", "h:/e", "/m"}, "nfs", "mount helper (mount.nfs)"},
		{"fuse subtype", []string{"-t", "fuse.sshfs", "h:/e", "/m"}, "fuse.sshfs", "mount helper"},
		{"fstab lookup", []string{"-t", "tmpfs", "/m"}, "", "fstab lookups are not supported"},
		{"bind with one path", []string{"--bind", "/m"}, "", "bind mount needs SOURCE and TARGET"},
		{"propagation with source", []string{"--make-private", "/a", "/m"}, "/a", "only the mount point"},
		{"loop", []string{"-t", "ext4", "-o", "ro,loop", "/f.img", "/m"}, "loop", "loop devices"},
		{"loop offset", []string{"-t", "ext4", "-o", "offset=512", "/f.img", "/m"}, "offset=512", "loop devices"},
		{"user mounts", []string{"-t", "tmpfs", "-o", "users", "x", "/m"}, "users", "user mounts"},
		{"X-mount.mkdir", []string{"-t", "tmpfs", "-o", "X-mount.mkdir", "x", "/m"}, "X-mount.mkdir", "X-mount"},
		{"unbalanced quote", []string{"-t", "tmpfs", "-o", `size=1m,context="a,b`, "x", "/m"}, `context="a,b`, "unbalanced"},
		{"data longer than a page", []string{"-t", "tmpfs", "-o", "a=" + strings.Repeat("x", 4094), "x", "/m"}, "", "at most 4095"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := parseAndPlan(tc.args)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("mount %q: got %v, want a usage error", tc.args, err)
			}
			if ue.Token != tc.wantToken {
				t.Errorf("mount %q: error names %q, want %q (%v)", tc.args, ue.Token, tc.wantToken, err)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("mount %q: error %q does not say %q", tc.args, err, tc.wantText)
			}
			if tc.wantToken != "" && !strings.Contains(err.Error(), strconv.Quote(tc.wantToken)) {
				t.Errorf("mount %q: error %q does not quote %q", tc.args, err, tc.wantToken)
			}
		})
	}
}

func parseAndPlan(args []string) error {
	req, err := parseMountArgs(args)
	if err != nil {
		return err
	}
	_, err = planMount(req)
	return err
}

func TestParseUmountArgs(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want      umountRequest
		wantToken string
	}{
		{args: []string{"/m"}, want: umountRequest{Target: "/m"}},
		{args: []string{"-f", "/m"}, want: umountRequest{Target: "/m", Flags: unix.MNT_FORCE}},
		{args: []string{"/m", "-l"}, want: umountRequest{Target: "/m", Flags: unix.MNT_DETACH}},
		{args: []string{"--lazy", "--force", "/m"}, want: umountRequest{Target: "/m", Flags: unix.MNT_DETACH | unix.MNT_FORCE}},
		{args: []string{"--", "-l"}, want: umountRequest{Target: "-l"}},
		{args: []string{"--version"}, want: umountRequest{Version: true}},
		{args: []string{"-lf", "/m"}, wantToken: "-lf"},
		{args: []string{"-R", "/m"}, wantToken: "-R"},
		{args: []string{"/m", "/n"}, wantToken: "/n"},
		{args: []string{"--", "/m", "/n"}, wantToken: "/n"},
		{args: []string{}, wantToken: ""},
	} {
		got, err := parseUmountArgs(tc.args)
		if tc.want == (umountRequest{}) {
			var ue *usageError
			if !errors.As(err, &ue) || ue.Token != tc.wantToken {
				t.Errorf("umount %q: got %v, want a usage error naming %q", tc.args, err, tc.wantToken)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("umount %q: got %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
}

// TestRunDispatch checks the program-name dispatch and the exit codes of the paths that make
// no system call.
func TestRunDispatch(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"mount", []string{"--version"}, exitOK, "Metropolis", ""},
		{"mount", []string{"--help"}, exitOK, "mount [--no-canonicalize|-c]", ""},
		{"umount", []string{"-h"}, exitOK, "umount [-l|--lazy]", ""},
		{"umount", []string{"-V"}, exitOK, "Metropolis", ""},
		{"mount", []string{"-x", "/a", "/b"}, exitUsage, "", `mount: "-x": unsupported argument`},
		{"mount", []string{"-t", "nfs", "h:/e", "/m"}, exitUsage, "", `mount: /m: "nfs": this filesystem type needs a mount helper`},
		{"umount", []string{"-a"}, exitUsage, "", `umount: "-a": unsupported argument`},
		{"mount.static", []string{"/a"}, exitUsage, "", "acts as \"mount\", \"umount\" or \"losetup\""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.name, tc.args, &stdout, &stderr)
		if code != tc.wantCode || !strings.Contains(stdout.String(), tc.wantStdout) || !strings.Contains(stderr.String(), tc.wantStderr) {
			t.Errorf("%s %q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				tc.name, tc.args, code, stdout.String(), stderr.String(), tc.wantCode, tc.wantStdout, tc.wantStderr)
		}
	}
}
